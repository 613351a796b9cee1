#!/usr/bin/env bash
# etcd down at start, etcd killed mid-snapshot, two saves at once: the daemon stays up, says
# what went wrong, and lists nothing partial.
source "$(dirname "$0")/lib.sh"

# The daemon starts and stays up with etcd down; status and save say so.
ETCD_URL="http://127.0.0.1:$(free_port)"
start_daemon --etcd-disable-snapshots
status=$(snapctl status)
assert_contains "$status" "UNREACHABLE"
expect_exit 1 snapctl save
assert_contains "$OUT" "save failed"
status=$(snapctl status -o json)
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["lastFailure"]["error"], s' "$status" ||
  fail "status has no last failure: $status"
[ -z "$(listed_names)" ] || fail "a failed save is listed"
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon

# A database big enough that a snapshot takes a while.
start_etcd
fill_etcd 120
start_daemon --etcd-disable-snapshots

# Two saves at once: serialized or refused, never interleaved.
snapctl save >"$T/first.out" 2>&1 &
first=$!
wait_for 10 sh -c "'$SNAPCTL_BIN' status -o json | grep -q '\"kind\": \"save\"'" || fail "first save never ran"
expect_exit 1 snapctl save
assert_contains "$OUT" "another job is running"
wait $first || fail "first save failed: $(cat "$T/first.out")"
etcdctl snapshot status "$SNAPSHOT_DIR/$(cat "$T/first.out")" >/dev/null || fail "first save is not valid"

# etcd killed mid-snapshot: the save fails, nothing is listed, no .part remains.
# (Frozen first, so that the kill lands mid-save however fast this machine streams.)
save_with_etcd_frozen "$T/cut.out"
cut=$SAVE_PID
before=$(listed_names | wc -l)
stop_etcd
if wait $cut; then fail "save succeeded although etcd was killed: $(cat "$T/cut.out")"; fi
assert_contains "$(cat "$T/cut.out")" "save failed"
after=$(listed_names | wc -l)
[ "$after" -eq "$before" ] || fail "a cut snapshot is listed: $(listed_names)"
assert_no_part_files
kill -0 "$DAEMON_PID" || fail "daemon died"
log "ok"
