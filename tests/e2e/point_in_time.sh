#!/usr/bin/env bash
# Point-in-time recovery against a real etcd and a real S3 (Ceph RGW), with increments every 5 s,
# zstd-compressed and age-encrypted: a writer puts increasing keys (deleting some) for a minute;
# restores to several revisions and times, in etcd mode, hold exactly what the live etcd held at
# that revision, with the same HashKV. Then the same from S3 alone (local copies deleted), and
# kill -9 of the daemon and a compaction each start a new base, no gap shown as recoverable.
source "$(dirname "$0")/lib.sh"

start_s3
start_etcd
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
age-keygen -o "$T/age.key" 2>/dev/null
chmod 600 "$T/age.key"
recipient=$(age-keygen -y "$T/age.key")
etcdctl_ put seed/a "before the base" >/dev/null

METRICS_ADDR="127.0.0.1:$(free_port)"
# shellcheck disable=SC2207
daemon_flags=($(s3_flags) --etcd-transport grpc --etcd-disable-snapshots
  --metrics-address "$METRICS_ADDR"
  --etcd-snapshot-incremental-interval 5s --etcd-snapshot-compression zstd
  --etcd-snapshot-encryption-recipients "$recipient"
  --etcd-snapshot-encryption-identity-file "$T/age.key")
start_daemon "${daemon_flags[@]}"

# windows: "STORAGE NAME FIRST LAST" for each listed base with a recoverable window.
windows() {
  snapctl ls -o json | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    w = r.get("recoverable")
    if w:
        print(r["storage"], r["name"], w["firstRevision"], w["lastRevision"])'
}
# last_of STORAGE NAME: the last recoverable revision of base NAME in STORAGE (0: none).
last_of() { windows | awk -v s="$1" -v n="$2" '$1 == s && $2 == n {print $4; f=1} END {if (!f) print 0}'; }
# both_reach NAME REV: both stores' windows of NAME reach revision REV.
both_reach() { [ "$(last_of local "$1")" -ge "$2" ] && [ "$(last_of s3 "$1")" -ge "$2" ]; }
newest_base() { windows | awk '$1 == "local" {print $2; exit}'; }
live_revision() { etcdctl_ get seed/a -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }

# The daemon takes its first base at start and shows its (empty) window at once.
wait_for 60 sh -c "[ -n \"\$(\"$SNAPCTL_BIN\" ls -o json | grep recoverable)\" ]" ||
  fail "no base with a recoverable window after start: $(snapctl ls 2>&1)"
BASE=$(newest_base)
[ -n "$BASE" ] || fail "no local base listed: $(snapctl ls -o json)"
log "first base: $BASE"

# The writer: a minute of puts of increasing keys, every fifth one followed by the delete of an
# earlier key; a pause of 3 s every 15 s gives times no write straddles. Each operation's
# revision and the times around it are logged.
python3 - "$ETCD_URL" "$T/ops" <<'PY'
import json, subprocess, sys, time
url, out = sys.argv[1], open(sys.argv[2], "w")
def run(*args):
    before = time.time()
    r = json.loads(subprocess.run(["etcdctl", "--endpoints", url, "-w", "json", *args],
                                  check=True, capture_output=True, text=True).stdout)
    out.write(f'{r["header"]["revision"]} {before:.3f} {time.time():.3f} {args[0]}\n')
    out.flush()
start, i, next_pause = time.time(), 0, 15
while time.time() - start < 60:
    if time.time() - start >= next_pause:
        out.write(f"pause {time.time():.3f}\n")
        time.sleep(3)
        next_pause += 15
    run("put", f"k/{i:05d}", f"value {i} " + "x" * (i % 50))
    if i % 5 == 4:
        run("del", f"k/{i - 3:05d}")
    i += 1
PY
FINAL=$(live_revision)
log "writer done at revision $FINAL ($(grep -c put "$T/ops") puts)"
wait_for 30 both_reach "$BASE" "$FINAL" ||
  fail "the windows of $BASE do not reach revision $FINAL: $(windows)"
assert_contains "$(snapctl ls)" "RECOVERABLE TO"
expect_exit 0 snapctl status
assert_contains "$OUT" "increments:    watching"
assert_contains "$OUT" "local: $BASE"
expect_exit 0 curl -sf "http://$METRICS_ADDR/metrics"
assert_contains "$OUT" 'k3s_snapd_incremental_lag_seconds{storage="s3"}'

# Increments live where k3s never looks, compressed and encrypted.
ls "$T/data/server/db/.metadata/" | grep -q "^$BASE\..*\.inc\.zst\.age$" ||
  fail "no local increment of $BASE in .metadata: $(ls "$T/data/server/db/.metadata/")"
! find "$SNAPSHOT_DIR" -name '*.inc*' | grep -q . || fail "increments in the snapshot dir"
s3_keys=$(s3_curl "http://$S3_ENDPOINT/$S3_BUCKET?list-type=2&max-keys=1000" |
  grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g')
grep -q "^\.metadata/$BASE\.[0-9]*-[0-9]*-[0-9]*\.inc\.zst\.age$" <<<"$s3_keys" ||
  fail "no S3 increment directly under .metadata/: $s3_keys"
first_key=$(grep '\.inc\.' <<<"$s3_keys" | head -1)
s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$first_key" -o "$T/inc.age"
head -c 21 "$T/inc.age" | grep -q "age-encryption.org/v1" || fail "$first_key is not age-encrypted"

NR=0
# restore_to ARGS...: snapctl restore ARGS in etcd mode into a new dir, then an etcd started on
# it; sets GOT_REV (the revision restored) and R_URL.
restore_to() {
  local dir="$T/restored-$((++NR))" peer client
  peer=$(free_port)
  client=$(free_port)
  expect_exit 0 snapctl restore "$@" --force --yes --no-progress --etcd-data-dir "$dir" \
    --etcd-name restored --initial-cluster "restored=http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer"
  GOT_REV=$(grep -o 'replayed to revision [0-9]*' <<<"$OUT" | awk '{print $4}')
  [ -n "$GOT_REV" ] || fail "restore $* did not say the revision: $OUT"
  R_URL="http://127.0.0.1:$client"
  etcd --name restored --data-dir "$dir" --listen-client-urls "$R_URL" \
    --advertise-client-urls "$R_URL" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "restored=http://127.0.0.1:$peer" >"$T/etcd-restored.log" 2>&1 &
  R_PID=$!
  PIDS+=("$R_PID")
  wait_for 30 etcdctl --endpoints "$R_URL" endpoint health || fail "etcd does not start on $dir"
}
# check_restored REV: the restored etcd holds exactly the live keys at REV (values, leases,
# revisions, versions), and its HashKV at REV is the live one's.
check_restored() {
  local rev=$1
  [ "$GOT_REV" = "$rev" ] || fail "restored revision $GOT_REV, expected $rev"
  etcdctl --endpoints "$R_URL" get "" --prefix -w json >"$T/got.json"
  etcdctl_ get "" --prefix --rev "$rev" -w json >"$T/want.json"
  python3 - "$T/want.json" "$T/got.json" <<'PY' || fail "restore to revision $rev differs from the live etcd"
import json, sys
def kvs(path):
    return [{k: kv.get(k) for k in ("key", "value", "lease", "create_revision", "mod_revision", "version")}
            for kv in json.load(open(path)).get("kvs", [])]
want, got = kvs(sys.argv[1]), kvs(sys.argv[2])
assert want == got, f"want {len(want)} keys, got {len(got)}"
PY
  local want got
  want=$(etcdctl_ endpoint hashkv --rev "$rev" -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])')
  got=$(etcdctl --endpoints "$R_URL" endpoint hashkv --rev "$rev" -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])')
  [ "$want" = "$got" ] || fail "HashKV at $rev: live $want, restored $got"
  kill -KILL "$R_PID"
  wait "$R_PID" 2>/dev/null || true
  log "restored revision $rev: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("kvs", [])))' "$T/got.json") keys and HashKV $got match the live etcd"
}
# pause_times: for each pause of the writer, a whole second inside it, after the last write
# before it finished, and the revision of that write.
pause_times() {
  python3 - "$T/ops" <<'PY'
import math, sys
last = None
lines = open(sys.argv[1]).read().split("\n")
for i, line in enumerate(lines):
    f = line.split()
    if f and f[0] == "pause":
        t = math.floor(float(f[1]) + 1.5)
        print(t, last)
    elif f:
        last = f[0]
PY
}

FIRST=$(windows | awk -v n="$BASE" '$1 == "local" && $2 == n {print $3}')
MID=$(((FIRST + FINAL) / 2))
for rev in $((FIRST + 1)) "$MID" "$FINAL"; do
  restore_to "$BASE" --to-revision "$rev"
  check_restored "$rev"
done
# Times: the base named, then left to the daemon (the newest base at or before the time).
read -r t rev < <(pause_times | head -1)
restore_to "$BASE" --to-time "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)"
check_restored "$rev"
read -r t rev < <(pause_times | sed -n 3p)
restore_to --to-time "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)"
check_restored "$rev"

# Past the window's end, or before the base: refused, naming the window.
expect_exit 1 snapctl restore "$BASE" --to-time "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" \
  --force --yes --etcd-data-dir "$T/never" --etcd-name r --initial-cluster r=http://127.0.0.1:1 \
  --initial-advertise-peer-urls http://127.0.0.1:1
assert_contains "$OUT" "recoverable window"
expect_exit 1 snapctl restore "$BASE" --to-revision $((FINAL + 100000)) --force --yes \
  --etcd-data-dir "$T/never" --etcd-name r --initial-cluster r=http://127.0.0.1:1 \
  --initial-advertise-peer-urls http://127.0.0.1:1
assert_contains "$OUT" "recoverable window"
[ ! -e "$T/never" ] || fail "a refused restore wrote $T/never"

# From S3 alone: the local snapshot and its increments are gone.
rm -f "$SNAPSHOT_DIR/$BASE" "$T/data/server/db/.metadata/$BASE"*
[ "$(last_of local "$BASE")" = 0 ] || fail "local still lists $BASE"
read -r t rev < <(pause_times | sed -n 2p)
restore_to --to-time "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)"
check_restored "$rev"
restore_to "$BASE" --storage s3 --to-revision "$FINAL"
check_restored "$FINAL"

# kill -9 mid-chain: the restarted daemon takes a new base; the old chain keeps what was
# written and nothing more.
LAST_BEFORE=$(last_of s3 "$BASE")
etcdctl_ put k/after-kill one >/dev/null
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
etcdctl_ put k/while-down two >/dev/null
start_daemon "${daemon_flags[@]}"
wait_for 60 sh -c "[ \"\$(\"$SNAPCTL_BIN\" ls -o json | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get(\"recoverable\") and r[\"storage\"] == \"s3\"))')\" -ge 2 ]" ||
  fail "no new base after kill -9: $(windows)"
NEW_BASE=$(windows | awk -v old="$BASE" '$1 == "s3" && $2 != old {print $2; exit}')
OLD_LAST=$(last_of s3 "$BASE")
[ "$OLD_LAST" -ge "$LAST_BEFORE" ] || fail "the old chain shrank from $LAST_BEFORE to $OLD_LAST"
log "after kill -9: new base $NEW_BASE; $BASE recoverable to $OLD_LAST"
restore_to "$BASE" --storage s3 --to-revision "$OLD_LAST"
check_restored "$OLD_LAST"
expect_exit 1 snapctl restore "$BASE" --to-revision $((OLD_LAST + 1)) --force --yes \
  --etcd-data-dir "$T/never" --etcd-name r --initial-cluster r=http://127.0.0.1:1 \
  --initial-advertise-peer-urls http://127.0.0.1:1
assert_contains "$OUT" "recoverable window"

# A compaction ends the chain and starts a new base at once.
for i in 1 2 3; do etcdctl_ put "k/before-compaction-$i" "$i" >/dev/null; done
COMPACT_AT=$(live_revision)
wait_for 30 both_reach "$NEW_BASE" "$COMPACT_AT" || fail "$NEW_BASE does not reach $COMPACT_AT"
etcdctl_ compact "$COMPACT_AT" >/dev/null
wait_for 60 sh -c "[ \"\$(\"$SNAPCTL_BIN\" ls -o json | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get(\"recoverable\") and r[\"storage\"] == \"s3\"))')\" -ge 3 ]" ||
  fail "no new base after the compaction: $(windows)"
grep -q "compacted" "$T/daemon.log" || fail "the log does not say the compaction ended the chain"
THIRD=$(windows | awk -v a="$BASE" -v b="$NEW_BASE" '$1 == "s3" && $2 != a && $2 != b {print $2; exit}')
for i in 1 2 3; do etcdctl_ put "k/after-compaction-$i" "$i" >/dev/null; done
AFTER=$(live_revision)
wait_for 30 both_reach "$THIRD" "$AFTER" || fail "$THIRD does not reach $AFTER"
restore_to "$THIRD" --to-revision "$AFTER"
check_restored "$AFTER"
stop_daemon
log "point-in-time recovery: every restore matched the live etcd"
