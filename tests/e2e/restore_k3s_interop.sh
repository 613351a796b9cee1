#!/usr/bin/env bash
# Interop and k3s mode. Our zip, zstd and age snapshots are read by unzip, zstd and age, and
# etcdctl accepts what they give; a snapshot made by `etcdctl snapshot save` and zipped as k3s
# (Go's archive/zip) zips it, and one encrypted with `age -r`, verify and restore with ours.
# k3s mode runs a stand-in `k3s` that records its arguments: a real k3s is not in Debian.
source "$(dirname "$0")/lib.sh"

start_etcd
for i in $(seq 1 40); do etcdctl_ put "k/$i" "value-$i" >/dev/null; done
age-keygen -o "$T/age.key" 2>/dev/null
chmod 600 "$T/age.key"
recipient=$(age-keygen -y "$T/age.key")
mkdir -p "$T/data/server/db/etcd/member"
echo "the old etcd data" >"$T/data/server/db/etcd/member/old-marker"
printf 'K10cafe::server:first-password\n' >"$T/data/server/token"

# snapshot_status FILE: etcdctl must take FILE as an etcd snapshot holding our keys.
snapshot_status() {
  etcdctl snapshot status "$1" -w json >"$T/status.json" 2>"$T/status.err" ||
    fail "etcdctl snapshot status rejects $1: $(cat "$T/status.err")"
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["totalKey"] >= 40, s' \
    "$T/status.json" || fail "$1 does not hold the keys"
}

start_daemon --etcd-snapshot-compress
expect_exit 0 snapctl save
zip_name=$OUT
[[ $zip_name == *.zip ]] || fail "etcd-snapshot-compress did not make a .zip: $zip_name"
entries=$(unzip -Z1 "$SNAPSHOT_DIR/$zip_name")
[ "$entries" = "${zip_name%.zip}" ] || fail "zip entries are '$entries', expected ${zip_name%.zip}"
unzip -p "$SNAPSHOT_DIR/$zip_name" >"$T/unzipped.db"
snapshot_status "$T/unzipped.db"
python3 -m zipfile -t "$SNAPSHOT_DIR/$zip_name" >/dev/null || fail "python's zipfile rejects our zip"
stop_daemon

start_daemon --etcd-snapshot-compression zstd
expect_exit 0 snapctl save
zstd -dq "$SNAPSHOT_DIR/$OUT" -o "$T/unzstd.db" || fail "zstd cannot read $OUT"
snapshot_status "$T/unzstd.db"
stop_daemon

start_daemon --etcd-snapshot-compress --etcd-snapshot-encryption-recipients "$recipient" \
  --etcd-snapshot-encryption-identity-file "$T/age.key"
expect_exit 0 snapctl save
sealed=$OUT
[[ $sealed == *.zip.age ]] || fail "compressed and encrypted snapshot named $sealed"
age -d -i "$T/age.key" -o "$T/sealed.zip" "$SNAPSHOT_DIR/$sealed" || fail "age cannot decrypt $sealed"
unzip -p "$T/sealed.zip" >"$T/sealed.db"
snapshot_status "$T/sealed.db"

# Made by other tools and put where k3s puts its snapshots.
etcdctl_ snapshot save "$T/external.db" >/dev/null
now=$(date +%s)
python3 - "$T/external.db" "$SNAPSHOT_DIR/etcd-snapshot-external-$now.zip" "etcd-snapshot-external-$now" <<'PY'
# As k3s's compressSnapshot writes it with Go's archive/zip: one Deflate entry, streamed, so
# its sizes follow the data in a data descriptor (flag bit 3).
import subprocess, sys, zipfile
src, dst, entry = sys.argv[1:]
with open(dst, "wb") as out:
    pipe = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=out)
    with zipfile.ZipFile(pipe.stdin, "w", compression=zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(entry)
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(src, "rb") as f, z.open(info, "w") as w:
            w.write(f.read())
    pipe.stdin.close()
    pipe.wait()
data = open(dst, "rb").read()
assert data[6] & 0x08, "no data descriptor flag"
assert data[8] == 8, "not Deflate"
PY
chmod 600 "$SNAPSHOT_DIR"/*.zip
age -r "$recipient" -o "$SNAPSHOT_DIR/on-demand-external-$now.age" "$T/external.db"
expect_exit 0 snapctl verify "etcd-snapshot-external-$now.zip" "on-demand-external-$now.age"
[ "$(grep -c '^OK' <<<"$OUT")" -eq 2 ] || fail "foreign snapshots do not verify: $OUT"
etcdctl_ del k/ --prefix >/dev/null
stop_etcd
for name in "etcd-snapshot-external-$now.zip" "on-demand-external-$now.age"; do
  peer=$(free_port)
  expect_exit 0 snapctl restore "$name" --yes --etcd-data-dir "$T/restored-$name" --etcd-name r \
    --initial-cluster "r=http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer"
  etcdctl snapshot status "$T/restored-$name/member/snap/db" -w json >/dev/null ||
    fail "no etcd database in the restore of $name"
done
log "foreign zip and age snapshots verified and restored"

# A stand-in k3s: checks it was given a valid etcd snapshot, records its arguments, and makes a
# new server/db/etcd as k3s's cluster reset would; K3S_STANDIN_EXIT makes it fail afterwards.
mkdir -p "$T/bin"
cat >"$T/bin/k3s" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$T/k3s-args"
for a in "\$@"; do
  case \$a in
    --cluster-reset-restore-path=*) path=\${a#*=} ;;
    --data-dir=*) dir=\${a#*=} ;;
  esac
done
etcdctl snapshot status "\$path" >/dev/null 2>&1 || exit 3
mkdir -p "\$dir/server/db/etcd/member" && echo restored >"\$dir/server/db/etcd/member/new-marker"
exit \${K3S_STANDIN_EXIT:-0}
EOF
chmod +x "$T/bin/k3s"

# The token changed since the snapshot: refused, nothing touched, the way back named.
printf 'K10cafe::server:second-password\n' >"$T/data/server/token"
expect_exit 1 snapctl restore "$sealed" --yes --k3s "$T/bin/k3s"
assert_contains "$OUT" "another server token"
assert_contains "$OUT" "--restore-token"
[ ! -e "$T/k3s-args" ] || fail "k3s ran although the token differs"
[ -f "$T/data/server/db/etcd/member/old-marker" ] || fail "the etcd dir was touched"

# With the saved token put back, k3s resets the cluster from the staged snapshot.
expect_exit 0 snapctl restore "$sealed" --yes --restore-token --k3s "$T/bin/k3s"
assert_contains "$OUT" "systemctl start k3s"
[ "$(cat "$T/data/server/token")" = "K10cafe::server:first-password" ] || fail "token not restored"
old_token=$(find "$T/data/server" -maxdepth 1 -name 'token-old-*' | head -1)
[ -n "$old_token" ] && grep -q second-password "$old_token" || fail "the replaced token was not kept"
staged="$T/data/server/db/.restore/${sealed%.zip.age}"
printf 'server\n--cluster-reset\n--cluster-reset-restore-path=%s\n--data-dir=%s\n--etcd-s3=false\n' "$staged" "$T/data" >"$T/want-args"
diff "$T/want-args" "$T/k3s-args" >&2 || fail "k3s was run with other arguments"
old_etcd=$(find "$T/data/server/db" -maxdepth 1 -name 'etcd-old-*' | head -1)
[ -f "$old_etcd/member/old-marker" ] || fail "the old etcd dir was not moved aside"
[ -f "$T/data/server/db/etcd/member/new-marker" ] || fail "k3s's new etcd dir is missing"
[ ! -e "$staged" ] || fail "the decrypted staged snapshot was left behind"

# k3s fails: what it made is moved away and the previous etcd dir comes back.
sleep 1  # a new etcd-old-<unix> name
rm -f "$T/k3s-args"
K3S_STANDIN_EXIT=1 expect_exit 1 snapctl restore "$zip_name" --yes --k3s "$T/bin/k3s"
assert_contains "$OUT" "status 1"
[ -f "$T/data/server/db/etcd/member/new-marker" ] || fail "the etcd dir did not come back after k3s failed"
[ -n "$(find "$T/data/server/db" -maxdepth 1 -name 'etcd-failed-*')" ] || fail "k3s's partial dir was not kept aside"

mkdir -p "$T/not-k3s"
expect_exit 1 snapctl restore "$zip_name" --yes --k3s "$T/bin/k3s" --data-dir "$T/not-k3s"
assert_contains "$OUT" "holds no k3s server"
log "ok"
