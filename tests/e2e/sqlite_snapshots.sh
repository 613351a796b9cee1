#!/usr/bin/env bash
# A k3s server on SQLite (kine's state.db, no etcd): found by the default datastore-endpoint,
# saved while a kine-like writer keeps writing, locally and to a real S3, listed with its
# datastore and revision, verified, and readable as a database holding exactly the writer's
# rows up to that revision. MySQL/PostgreSQL endpoints are refused at start.
source "$(dirname "$0")/lib.sh"

: "${KINE_WRITER:?KINE_WRITER must point at tests/tools/kine-writer}"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed (scripts/install-deps)"
db_dir="$T/data/server/db"
db="$db_dir/state.db"
mkdir -p "$db_dir"

# MySQL and PostgreSQL are refused at start, naming their dump tool and not the password.
for endpoint in 'mysql://k3s:hunter2@tcp(127.0.0.1:3306)/k3s' 'postgres://k3s:hunter2@127.0.0.1/k3s'; do
  set +e
  out=$("$K3S_SNAPD" --config-dir "$T/conf" --data-dir "$T/data" --state-dir "$STATE_DIR" \
    --control-socket "$K3S_SNAPD_SOCKET" --datastore-endpoint "$endpoint" 2>&1)
  code=$?
  set -e
  [ $code -ne 0 ] || fail "k3s-snapd started with datastore-endpoint $endpoint"
  [[ $out == *mysqldump* || $out == *pg_dump* ]] || fail "no dump tool named for $endpoint: $out"
  [[ $out == *"--datastore-endpoint: "* && $out != *"datastore-endpoint: datastore-endpoint"* ]] ||
    fail "the error does not name the flag once: $out"
  [[ $out != *hunter2* ]] || fail "the password is in the error: $out"
done

# A kine database with some history, then a writer that keeps going during every save.
"$KINE_WRITER" --db "$db" --writes 3000 --value-bytes 512 --keys 200 >/dev/null ||
  fail "kine-writer could not fill $db"
"$KINE_WRITER" --db "$db" --value-bytes 512 --keys 200 --rate 200 --state-out "$T/writer.state" \
  >"$T/writer.log" 2>&1 &
WRITER_PID=$!
PIDS+=("$WRITER_PID")

start_s3
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
# No etcd anywhere: the default endpoint finds state.db and no server/db/etcd.
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-disable-snapshots
status=$(snapctl status)
assert_contains "$status" "sqlite:        $db reachable"
[ "$(api_get /v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["datastore"]["kind"])')" = sqlite ] ||
  fail "status does not say sqlite: $(api_get /v1/status)"

expect_exit 0 snapctl save
name=$OUT
[[ $name =~ ^sqlite-on-demand-e2e-node-[0-9]{10}$ ]] || fail "unexpected snapshot name '$name'"
file="$SNAPSHOT_DIR/$name"
[ -f "$file" ] || fail "$file missing"
revision=$(python3 - "$(snapctl ls -o json)" "$name" "$(sha256sum "$file" | cut -d' ' -f1)" <<'PY'
import json, sys
records, name, sha = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
mine = {r["storage"]: r for r in records if r["name"] == name}
assert set(mine) == {"local", "s3"}, mine
for r in mine.values():
    assert r["datastore"] == "sqlite" and r["status"] == "ready", r
    assert r["sha256"] == sha, (r, sha)
    assert r["revision"] >= 3000, r
assert mine["local"]["revision"] == mine["s3"]["revision"]
print(mine["local"]["revision"])
PY
) || fail "ls -o json does not describe the SQLite snapshot: $(snapctl ls -o json)"

# Both copies verify: stored bytes, SQLite's integrity check, kine's table, the revision.
expect_exit 0 snapctl verify "$name"
assert_contains "$OUT" "local"
assert_contains "$OUT" "s3"
[ -z "$(ls "$STATE_DIR" | grep sqlite-)" ] || fail "copies left in the state dir: $(ls "$STATE_DIR")"

# A restore is refused while a process (k3s; here the writer) holds the database open.
expect_exit 1 snapctl restore "$name" --yes
assert_contains "$OUT" "is open in kine-writer"
assert_contains "$OUT" "stop k3s first"

# The copy is one transaction of the live database: its rows are exactly the source's rows up
# to its revision (kine only ever appends rows; this writer never compacts).
kill -TERM "$WRITER_PID"
wait "$WRITER_PID" || fail "kine-writer failed (SQLITE_BUSY or another error): $(cat "$T/writer.log")"
[ "$(sqlite3 "$file" 'PRAGMA integrity_check')" = ok ] || fail "the snapshot fails integrity_check"
[ "$(sqlite3 "$file" 'SELECT MAX(id) FROM kine')" = "$revision" ] || fail "MAX(id) is not $revision"
rows() { sqlite3 "$1" "SELECT id, name, created, deleted, create_revision, prev_revision, lease, hex(value), hex(old_value) FROM kine WHERE id <= $revision ORDER BY id" | sha256sum; }
[ "$(rows "$file")" = "$(rows "$db")" ] || fail "the snapshot's rows differ from the source's up to revision $revision"
last=$(cat "$T/writer.state")
[ "$last" -gt "$revision" ] || fail "the writer did not write during the save (last revision $last, copy at $revision)"
# The source's WAL was checkpointed, not left to grow (the writer's last writes may remain).
wal=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
[ "$wal" -lt $((64 << 20)) ] || fail "state.db-wal is $wal bytes"

assert_contains "$(snapctl verify "$name")" "SQLite database, integrity check, revision and record match"

# Scheduled SQLite snapshots have their own prefix too, and are pruned by it; compressed, they
# verify through the decompressed copy.
stop_daemon
start_daemon --etcd-snapshot-schedule-cron '@every 1s' --etcd-snapshot-retention 2 --etcd-snapshot-compress
wait_for 30 log_has 3 'saving snapshot sqlite-snapshot-e2e-node-[0-9]*\.zip' ||
  fail "no scheduled SQLite snapshots: $(grep saving "$T/daemon.log")"
wait_for 30 log_has 1 'retention: deleted sqlite-snapshot-e2e-node-' || fail "no retention of sqlite-snapshot-"
zipped=$(snapctl ls -o json | python3 -c 'import json,sys; print(sorted(r["name"] for r in json.load(sys.stdin) if r["name"].endswith(".zip"))[-1])')
expect_exit 0 snapctl verify "$zipped"
assert_contains "$OUT" "SQLite database, integrity check, revision and record match"
stop_daemon
[ -z "$(ls "$STATE_DIR" | grep sqlite-)" ] || fail "copies left in the state dir: $(ls "$STATE_DIR")"
start_daemon --etcd-disable-snapshots

# With k3s stopped, a restore puts the copy in place of state.db with its owner and mode, and
# keeps the old database (with its WAL) beside it, still readable.
snapshot_rows=$(rows "$file")
chmod 640 "$db"
expect_exit 0 snapctl restore "$name" --yes
assert_contains "$OUT" "Restored $name"
assert_contains "$OUT" "start k3s"
[ "$(stat -c %a "$db")" = 640 ] || fail "restored state.db has mode $(stat -c %a "$db"), want 640"
[ ! -e "$db-wal" ] || [ "$(stat -c %s "$db-wal")" -eq 0 ] || fail "a WAL of the old database is beside the restored one"
[ "$(sqlite3 "$db" 'SELECT MAX(id) FROM kine')" = "$revision" ] || fail "restored state.db is not at revision $revision"
[ "$(rows "$db")" = "$snapshot_rows" ] || fail "restored rows differ from the snapshot's"
old=$(ls "$db_dir" | grep -E '^state\.db-old-[0-9]+$') || fail "the old state.db was not kept: $(ls "$db_dir")"
[ "$(sqlite3 "$db_dir/$old" 'SELECT MAX(id) FROM kine')" = "$last" ] ||
  fail "the old database kept aside is not at the writer's last revision $last"

# A corrupt copy fails verify, naming the copy.
printf 'garbage' | dd of="$file" bs=1 seek=8192 conv=notrunc 2>/dev/null
expect_exit 1 snapctl verify "$name"
assert_contains "$OUT" "local $name"
log "ok"
