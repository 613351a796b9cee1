#!/usr/bin/env bash
# S3 down never delays local: with S3 at a closed port (etcd-s3-timeout 60s) the daemon answers
# on its socket at once, status says S3 is unreachable, and a save has its local copy `ready`
# in `snapctl ls` within a local-only save's time + 1 s; its result says local has it and s3
# failed.
source "$(dirname "$0")/lib.sh"

start_etcd
fill_etcd 40
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.2f", a - b}'; }

# New local snapshots listed ready, one a line. With S3 down `snapctl ls` fails for the S3
# store; what it lists of the local one is read all the same.
local_listed() {
  { snapctl ls -o json 2>/dev/null || true; } | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["storage"] == "local" and r["status"] == "ready":
        print(r["name"])'
}
# time_to_ready: starts `snapctl save` (exit code and JSON result in $T/save.*) and polls the
# listing until a new local snapshot is ready; its name in $READY, the seconds it took from the
# start of the save to the listing that showed it in $TOOK.
time_to_ready() {
  local before t0 deadline=$((SECONDS + 60))
  before=$(local_listed)
  t0=$(now)
  (
    set +e
    snapctl save -o json --no-progress >"$T/save.json" 2>"$T/save.err"
    echo $? >"$T/save.rc"
  ) &
  SAVE_PID=$!
  READY=""
  while [ -z "$READY" ]; do
    [ $SECONDS -lt $deadline ] || fail "no local copy listed ready 60 s after the save began"
    READY=$(local_listed | grep -vxF -- "$before" || true)
    [ -n "$READY" ] || sleep 0.05
  done
  TOOK=$(since "$t0")
}

# The reference: local-only saves of the same database, timed the same way (the slower of two).
start_daemon --etcd-disable-snapshots
local_time=0
for _ in 1 2; do
  time_to_ready
  wait "$SAVE_PID"
  [ "$(cat "$T/save.rc")" -eq 0 ] || fail "a local-only save failed: $(cat "$T/save.err")"
  local_time=$(awk -v a="$local_time" -v b="$TOOK" 'BEGIN {print (b > a) ? b : a}')
done
stop_daemon
log "local-only save listed ready after ${local_time} s"

# S3 at a port nothing listens on. The socket answers at once, not after S3's retries.
closed=$(free_port)
t0=$(now)
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=secret-key-123 start_daemon --etcd-disable-snapshots \
  --etcd-s3 --etcd-s3-endpoint "127.0.0.1:$closed" --etcd-s3-insecure --etcd-s3-bucket "$S3_BUCKET" \
  --etcd-s3-region us-east-1 --etcd-s3-timeout 60s
answered=$(since "$t0")
awk -v t="$answered" 'BEGIN {exit !(t <= 3)}' || fail "the socket answered only after $answered s with S3 down"
s3_unreachable() {
  snapctl status | grep -E '^storage: +s3 ' | grep -qiE 'ERROR: .*(unreachable|refused|connect)'
}
wait_for 10 s3_unreachable || fail "status does not say S3 is unreachable: $(snapctl status)"

# A save with S3 down: the local copy is listed ready in time while the S3 copy fails or
# retries. A busy machine can stall one try, so a late one is cancelled and tried once more;
# S3 holding up the local copy delays both.
in_time() { awk -v t="$TOOK" -v l="$local_time" 'BEGIN {exit !(t <= l + 1)}'; }
time_to_ready
log "with S3 down the local copy $READY was listed ready after $TOOK s"
if ! in_time; then
  first=$TOOK
  expect_exit 0 snapctl cancel
  wait "$SAVE_PID"
  time_to_ready
  log "with S3 down the local copy $READY was listed ready after $TOOK s (second try)"
  in_time || fail "with S3 down the local copy was listed ready after $first s and $TOOK s; a local-only save's after $local_time s"
fi

# The result names the store that has it and the one that failed.
wait "$SAVE_PID"
[ "$(cat "$T/save.rc")" -eq 1 ] || fail "the save exited $(cat "$T/save.rc") with S3 down: $(cat "$T/save.json" "$T/save.err")"
python3 - "$T/save.json" "$READY" <<'PY' || fail "the save's result does not say local has it and s3 failed: $(cat "$T/save.json" "$T/save.err")"
import json, sys
job = json.load(open(sys.argv[1]))
assert job["state"] == "failed", job
assert job["snapshot"] == sys.argv[2], job
assert [r["storage"] for r in job["records"]] == ["local"], job["records"]
assert "s3" in job["error"] and "local" in job["error"], job["error"]
PY
assert_contains "$(cat "$T/save.err")" "kept in local but not stored in s3"
assert_no_part_files
etcdctl snapshot status "$SNAPSHOT_DIR/$READY" >/dev/null || fail "$READY is not a valid etcd snapshot"
log "ok"
