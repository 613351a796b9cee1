#!/usr/bin/env bash
# Scheduled snapshots fire on the cron schedule and are pruned to etcd-snapshot-retention;
# on-demand snapshots are left alone by the schedule and pruned only by `snapctl prune`.
source "$(dirname "$0")/lib.sh"

start_etcd
etcdctl_ put hello world >/dev/null
start_daemon --etcd-snapshot-schedule-cron '@every 2s' --etcd-snapshot-retention 2

for _ in 1 2 3; do
  expect_ok_when_idle snapctl save
done
status=$(snapctl status -o json)
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["schedule"]["enabled"] and s["schedule"]["nextRun"], s' "$status" ||
  fail "status has no next scheduled run: $status"

# Wait for at least four scheduled runs.
deadline=$((SECONDS + 30))
while :; do
  runs=$(grep -c 'saving snapshot etcd-snapshot-' "$T/daemon.log" || true)
  [ "$runs" -ge 4 ] && break
  [ $SECONDS -lt $deadline ] || fail "only $runs scheduled snapshots in 30 s"
  sleep 0.5
done
sleep 0.5
scheduled=$(listed_names | grep -c '^etcd-snapshot-' || true)
[ "$scheduled" -eq 2 ] || fail "$scheduled scheduled snapshots kept, retention is 2: $(listed_names)"
ondemand=$(listed_names | grep -c '^on-demand-' || true)
[ "$ondemand" -eq 3 ] || fail "schedule touched on-demand snapshots: $(listed_names)"
grep -q 'retention: deleted etcd-snapshot-' "$T/daemon.log" || fail "no retention in the log"

# The kept scheduled snapshots are the newest ones.
newest=$(ls "$SNAPSHOT_DIR" | grep '^etcd-snapshot-' | sort | tail -n 2 | tr '\n' ' ')
kept=$(listed_names | grep '^etcd-snapshot-' | sort | tr '\n' ' ')
[ "$newest" = "$kept" ] || fail "kept '$kept', newest on disk '$newest'"

# prune applies to the on-demand prefix by default.
expect_ok_when_idle snapctl prune --snapshot-retention 1
ondemand=$(listed_names | grep -c '^on-demand-' || true)
[ "$ondemand" -eq 1 ] || fail "prune left $ondemand on-demand snapshots"
expect_exit 2 snapctl prune --snapshot-retention many
log "ok"
