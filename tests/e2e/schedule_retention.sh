#!/usr/bin/env bash
# Scheduled snapshots fire on the cron schedule and are pruned to etcd-snapshot-retention;
# on-demand snapshots are left alone by the schedule and pruned only by `snapctl prune`, whose
# dry run of calendar rules deletes nothing.
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

# A dry run of calendar rules lists every on-demand snapshot with keep or remove and the rule's
# reason, and deletes nothing; the real prune then removes just what it listed as remove.
for _ in 1 2; do
  expect_ok_when_idle snapctl save
done
before=$(listed_names | grep '^on-demand-' | sort)
[ "$(wc -l <<<"$before")" -eq 3 ] || fail "expected 3 on-demand snapshots: $before"
expect_ok_when_idle snapctl prune --keep-daily 1 --dry-run
dry=$OUT
[ "$(grep -c '^keep    on-demand-.* (local): keep-daily 1 (20[0-9-]*)$' <<<"$dry")" -eq 1 ] ||
  fail "dry run does not keep exactly one with keep-daily 1: $dry"
[ "$(grep -c '^remove  on-demand-.* (local): keep-daily 1: ' <<<"$dry")" -eq 2 ] ||
  fail "dry run does not list two to remove: $dry"
if grep -q '^pruned ' <<<"$dry"; then fail "dry run pruned: $dry"; fi
[ "$(listed_names | grep '^on-demand-' | sort)" = "$before" ] || fail "dry run deleted snapshots"
expect_ok_when_idle snapctl prune --keep-daily 1 --dry-run -o json
python3 -c 'import json,sys; b=json.loads(sys.argv[1]); assert b["dryRun"] and b["keepDaily"] == 1 and b["retention"] == 0 and all(not s["removed"] for s in b["stores"]), b' "$OUT" ||
  fail "dry run JSON: $OUT"
expect_ok_when_idle snapctl prune --keep-daily 1
kept=$(sed -n 's/^keep    \(on-demand-[^ ]*\) .*/\1/p' <<<"$dry")
[ "$(listed_names | grep '^on-demand-')" = "$kept" ] ||
  fail "prune kept '$(listed_names | grep '^on-demand-')', the dry run said '$kept'"
[ "$kept" = "$(tail -n 1 <<<"$before")" ] || fail "keep-daily 1 kept $kept, not the newest"
expect_exit 2 snapctl prune --keep-daily -1
assert_contains "$OUT" "--keep-daily -1: must not be negative"
expect_exit 2 snapctl prune --keep-weekly x
assert_contains "$OUT" "--keep-weekly x: not an integer"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$K3S_SNAPD_SOCKET" \
  -X POST -d '{"keepMonthly": -2}' 'http://localhost/v1/prune')
[ "$code" = 400 ] || fail "negative keepMonthly answered $code"
assert_contains "$(cat "$T/resp")" '\"keepMonthly\" must not be negative, got -2'
log "ok"
