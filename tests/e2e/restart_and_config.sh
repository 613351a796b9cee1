#!/usr/bin/env bash
# A restarted daemon lists what it made before and removes leftovers of interrupted saves;
# bad configuration stops it at start with a message naming the file and key.
source "$(dirname "$0")/lib.sh"

start_etcd
etcdctl_ put a b >/dev/null
cat >"$T/conf/10-base.yaml" <<'YAML'
etcd-snapshot-retention: 3
etcd-disable-snapshots: true
YAML
start_daemon
expect_exit 0 snapctl save
first=$OUT
expect_exit 0 snapctl save --name keep
second=$OUT
stop_daemon

# An interrupted save's leftover (old, unlocked) and a k3s snapshot without a record.
head -c 4096 /dev/urandom >"$SNAPSHOT_DIR/on-demand-e2e-node-1700000000.part"
touch -d '10 minutes ago' "$SNAPSHOT_DIR/on-demand-e2e-node-1700000000.part"
cp "$SNAPSHOT_DIR/$first" "$SNAPSHOT_DIR/etcd-snapshot-k3s-node-1700000001"
start_daemon
names=$(listed_names)
for n in "$first" "$second" etcd-snapshot-k3s-node-1700000001; do
  grep -qx "$n" <<<"$names" || fail "$n not listed after restart: $names"
done
assert_no_part_files
[ "$(snapctl ls -o json | python3 -c 'import json,sys; print([r["createdAt"] for r in json.load(sys.stdin) if r["name"]=="etcd-snapshot-k3s-node-1700000001"][0])')" = "2023-11-14T22:13:21Z" ] ||
  fail "k3s snapshot time not taken from its name"
stop_daemon

run_daemon() {
  "$K3S_SNAPD" --config-dir "$T/conf" --control-socket "$T/bad.sock" --state-dir "$T/bad-state" "$@"
}
# Unknown key: the file and key are named.
printf 'etcd-snapshot-retenton: 3\n' >"$T/conf/20-typo.yaml"
expect_exit 2 run_daemon
assert_contains "$OUT" "20-typo.yaml"
assert_contains "$OUT" "etcd-snapshot-retenton"
rm "$T/conf/20-typo.yaml"
# Wrong type.
printf 'etcd-snapshot-retention: five\n' >"$T/conf/30-type.yaml"
expect_exit 2 run_daemon
assert_contains "$OUT" "30-type.yaml"
assert_contains "$OUT" "etcd-snapshot-retention"
rm "$T/conf/30-type.yaml"
# Invalid cron: rejected, not ignored as k3s does.
printf 'etcd-disable-snapshots: false\netcd-snapshot-schedule-cron: "61 * * * *"\n' >"$T/conf/40-cron.yaml"
expect_exit 2 run_daemon
assert_contains "$OUT" "40-cron.yaml"
assert_contains "$OUT" "etcd-snapshot-schedule-cron"
assert_contains "$OUT" "minute"
# Flags are checked too, and win over files.
expect_exit 2 run_daemon --etcd-snapshot-schedule-cron '@reboot'
assert_contains "$OUT" "--etcd-snapshot-schedule-cron"
expect_exit 2 run_daemon --no-such-flag
assert_contains "$OUT" "no-such-flag"
[ ! -e "$T/bad.sock" ] || fail "a daemon with bad config created its socket"
log "ok"
