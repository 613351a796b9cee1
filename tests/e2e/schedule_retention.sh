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

# Wait for at least four scheduled runs, then look while no job runs: the next save of the
# schedule must not fall between the listing and the look at the disk.
wait_for 30 log_has 4 'saving snapshot etcd-snapshot-' || fail "only $(grep -c 'saving snapshot etcd-snapshot-' "$T/daemon.log") scheduled snapshots in 30 s"
take_view() {
  LISTING=$(api_get /v1/snapshots)
  ON_DISK=$(ls "$SNAPSHOT_DIR")
  LOGGED=$(cat "$T/daemon.log")
}
while_idle take_view
LISTED=$(names_in "$LISTING")
STORED=$(sed -n 's/.*snapshot \(etcd-snapshot-[^ ]*\) stored at .*/\1/p' <<<"$LOGGED")
scheduled=$(grep -c '^etcd-snapshot-' <<<"$LISTED" || true)
[ "$scheduled" -eq 2 ] || fail "$scheduled scheduled snapshots kept, retention is 2: $LISTED"
ondemand=$(grep -c '^on-demand-' <<<"$LISTED" || true)
[ "$ondemand" -eq 3 ] || fail "schedule touched on-demand snapshots: $LISTED"
grep -q 'retention: deleted etcd-snapshot-' "$T/daemon.log" || fail "no retention in the log"

# The kept scheduled snapshots are the newest ones made, the only ones left on disk.
kept=$(grep '^etcd-snapshot-' <<<"$LISTED" | sort | tr '\n' ' ')
newest=$(sort <<<"$STORED" | tail -n 2 | tr '\n' ' ')
[ "$newest" = "$kept" ] || fail "kept '$kept', newest made '$newest'"
on_disk=$(grep '^etcd-snapshot-' <<<"$ON_DISK" | sort | tr '\n' ' ')
[ "$on_disk" = "$kept" ] || fail "kept '$kept', on disk '$on_disk'"

# prune applies to the on-demand prefix by default.
expect_ok_when_idle snapctl prune --snapshot-retention 1
ondemand=$(listed_names | grep -c '^on-demand-' || true)
[ "$ondemand" -eq 1 ] || fail "prune left $ondemand on-demand snapshots"
expect_exit 2 snapctl prune --snapshot-retention many
log "ok"
