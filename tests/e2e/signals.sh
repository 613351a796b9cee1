#!/usr/bin/env bash
# SIGHUP re-reads the configuration (a bad one is rejected and the old one keeps running);
# SIGTERM stops within 10 s and cancels a running save without leaving a .part file.
source "$(dirname "$0")/lib.sh"

start_etcd
cat >"$T/conf/10-base.yaml" <<'YAML'
etcd-snapshot-schedule-cron: "0 */12 * * *"
etcd-snapshot-retention: 5
YAML
start_daemon
cron() { snapctl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["schedule"]["cron"])'; }
[ "$(cron)" = "0 */12 * * *" ] || fail "unexpected schedule $(cron)"

# A bad config: rejected, old one kept, daemon up.
printf 'etcd-snapshot-schedule-cron: "every day"\n' >"$T/conf/20-new.yaml"
kill -HUP "$DAEMON_PID"
wait_for 10 grep -q 'reload rejected' "$T/daemon.log" || fail "bad config not rejected on SIGHUP"
grep 'reload rejected' "$T/daemon.log" | grep -q '20-new.yaml' || fail "rejection does not name the file"
kill -0 "$DAEMON_PID" || fail "daemon died on a bad reload"
[ "$(cron)" = "0 */12 * * *" ] || fail "schedule changed by a rejected reload: $(cron)"
expect_exit 0 snapctl save

# A good config takes effect.
printf 'etcd-snapshot-schedule-cron: "@every 1h"\netcd-snapshot-retention: 2\n' >"$T/conf/20-new.yaml"
kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "'$SNAPCTL_BIN' status -o json | grep -q '@every 1h'" || fail "good config not applied: $(cron)"
grep -q 'configuration reloaded' "$T/daemon.log" || fail "no reload in the log"
expect_exit 0 snapctl save

# SIGTERM mid-save: stops quickly, the save is cancelled, nothing partial remains. etcd is
# frozen while the save runs, so SIGTERM lands mid-save however fast this machine streams.
fill_etcd 150
save_with_etcd_frozen "$T/save.out"
save=$SAVE_PID
start=$SECONDS
stop_daemon
[ $((SECONDS - start)) -le 10 ] || fail "stopping took $((SECONDS - start)) s"
wait $save && fail "save reported success although the daemon was stopped mid-way"
kill -CONT "$ETCD_PID"
assert_no_part_files
grep -q 'received Terminated' "$T/daemon.log" || fail "no stop in the log"
log "ok"
