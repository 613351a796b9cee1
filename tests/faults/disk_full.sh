#!/usr/bin/env bash
# A full disk under the snapshot dir: a small tmpfs mounted over server/db (snapshots and
# .metadata), or where mounting is not allowed RLIMIT_FSIZE on the daemon (prlimit). Saves,
# scheduled and manual, fail naming the cause in snapctl, status, the log and the metrics,
# list nothing and leave no .part; retention never deletes the last good snapshot because of
# them; with room again saves and retention work as before.
source "$(dirname "$0")/lib.sh"

DB_DIR="$T/data/server/db"
MOUNTED=""
disk_cleanup() {
  local code=$?
  set +e
  kill -KILL "$DAEMON_PID" 2>/dev/null
  wait "$DAEMON_PID" 2>/dev/null
  [ -n "$MOUNTED" ] && umount -l "$DB_DIR"
  (exit $code)
  faults_exit
}
trap disk_cleanup EXIT

# expect_failure_when_idle: `snapctl save` exits 1 for a reason other than a running
# scheduled save (that one is waited out); output in $OUT.
expect_failure_when_idle() {
  local deadline=$((SECONDS + 20))
  while :; do
    expect_exit 1 snapctl save
    [[ $OUT == *"another job is running"* && $SECONDS -lt $deadline ]] || return 0
    sleep 0.3
  done
}

scheduled_failures() { grep -c 'scheduled-save job .* failed' "$T/daemon.log" || true; }
listed_scheduled() { listed_names | grep '^etcd-snapshot-' || true; }
# scheduled_when_idle: the listed scheduled snapshots in $SCHEDULED, listed while no job ran.
scheduled_when_idle() {
  while_idle take_listing
  SCHEDULED=$(names_in "$LISTING" | grep '^etcd-snapshot-' || true)
}

# record_full_case GOOD: room for the snapshot but not for its record (.metadata): the save
# fails naming the full disk, and neither its .part nor a half-written record is left.
record_full_case() {
  local start=$SECONDS size avail filler before
  stop_daemon
  start_daemon --etcd-disable-snapshots
  size=$(stat -c %s "$SNAPSHOT_DIR/$1")
  avail=$(($(stat -f -c '%a * %S' "$DB_DIR")))
  filler=$((avail - (size + 4095) / 4096 * 4096))
  head -c "$filler" /dev/zero >"$DB_DIR/filler"
  before=$(listed_names)
  expect_exit 1 snapctl save
  assert_contains "$OUT" "No space left on device"
  assert_contains "$OUT" ".metadata"
  assert_no_part_files
  local left
  left=$(find "$DB_DIR/.metadata" -name '.*' -type f)
  [ -z "$left" ] || fail "a half-written record is left: $left"
  [ "$(listed_names)" = "$before" ] || fail "the listing changed after a failed save: $(listed_names)"
  rm "$DB_DIR/filler"
  # Checked before the schedule is back: its retention could delete a snapshot mid-check.
  local listed
  listed=$(assert_listed_valid)
  stop_daemon
  start_daemon --etcd-snapshot-schedule-cron '@every 2s' --etcd-snapshot-retention 1
  matrix disk-full-record "1 save with room for the snapshot only" "$listed" \
    "failed naming the record write; nothing left" $((SECONDS - start))
}

# disk_full_case MODE: MODE "tmpfs" (a 4 MiB file system) or "rlimit" (a 4 MiB file size
# limit on the daemon); the error names WANT.
disk_full_case() {
  local mode=$1 want start=$SECONDS real_snapd=$K3S_SNAPD
  stop_etcd 2>/dev/null || true
  rm -rf "$T/etcd" "$T/data" "$T/checked"
  mkdir -p "$DB_DIR"
  start_etcd
  for i in $(seq 1 50); do etcdctl_ put "key/$i" "value-$i" >/dev/null; done
  if [ "$mode" = tmpfs ]; then
    mount -t tmpfs -o size=4m,mode=0700 tmpfs "$DB_DIR"
    MOUNTED=1
    want="No space left on device"
  else
    # SIGXFSZ ignored (inherited through exec), so writes past the limit fail with EFBIG
    # instead of killing the daemon, as on a real filesystem that is full.
    cat >"$T/limited-snapd" <<EOF
#!/bin/sh
exec prlimit --fsize=4194304 python3 -c 'import os, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])' "$real_snapd" "\$@"
EOF
    chmod +x "$T/limited-snapd"
    K3S_SNAPD="$T/limited-snapd"
    want="File too large"
  fi
  : >"$T/daemon.log"

  # Good snapshots while there is room: scheduled ones (retention 1) and one on demand.
  start_daemon --etcd-snapshot-schedule-cron '@every 2s' --etcd-snapshot-retention 1
  expect_ok_when_idle snapctl save
  local on_demand=$OUT
  wait_for 30 log_has 2 'stored at .*etcd-snapshot-' || fail "$mode: scheduled snapshots did not run"
  scheduled_when_idle
  [ "$(echo "$SCHEDULED" | wc -l)" -eq 1 ] ||
    fail "$mode: retention 1 did not leave one scheduled snapshot: $SCHEDULED"

  if [ "$mode" = tmpfs ]; then record_full_case "$on_demand"; fi

  # A database bigger than the room left.
  fill_etcd 6
  local failures_before
  failures_before=$(scheduled_failures)
  local good
  wait_for 30 sh -c "[ \$(grep -c 'scheduled-save job .* failed' '$T/daemon.log') -ge $((failures_before + 1)) ]" ||
    fail "$mode: no scheduled save failed with the disk full"
  good=$(listed_scheduled)
  [ "$(echo "$good" | wc -l)" -eq 1 ] || fail "$mode: expected one scheduled snapshot, got: $good"
  wait_for 30 sh -c "[ \$(grep -c 'scheduled-save job .* failed' '$T/daemon.log') -ge $((failures_before + 3)) ]" ||
    fail "$mode: scheduled saves stopped failing"
  [ "$(listed_scheduled)" = "$good" ] || fail "$mode: the good scheduled snapshot $good is gone: $(listed_scheduled)"
  listed_names | grep -qx "$on_demand" || fail "$mode: the on-demand snapshot $on_demand is gone"
  grep 'scheduled-save job .* failed' "$T/daemon.log" | tail -n 1 | grep -qF "$want" ||
    fail "$mode: the log does not name '$want': $(grep 'job .* failed' "$T/daemon.log" | tail -n 1)"

  local failures
  failures=$(metric 'k3s_snapd_snapshots_total{storage="local",result="failure"}')
  expect_failure_when_idle
  assert_contains "$OUT" "$want"
  assert_contains "$(status_field 's["lastFailure"]["error"]')" "$want"
  [ "$(metric 'k3s_snapd_snapshots_total{storage="local",result="failure"}')" -gt "$failures" ] ||
    fail "$mode: the failure counter did not grow"
  [ "$(metric 'k3s_snapd_snapshot_last_failure_timestamp_seconds')" != 0 ] || fail "$mode: no last failure time"
  assert_no_part_files
  local listed
  listed=$(assert_listed_valid)
  [ "$(listed_scheduled)" = "$good" ] || fail "$mode: the good scheduled snapshot $good is gone"
  local failed_runs=$(($(scheduled_failures) - failures_before))

  # Room again: saves work, and retention replaces the good snapshot only by a newer good one.
  if [ "$mode" = tmpfs ]; then
    mount -o remount,size=64m "$DB_DIR"
  else
    stop_daemon
    K3S_SNAPD=$real_snapd
    start_daemon --etcd-snapshot-schedule-cron '@every 2s' --etcd-snapshot-retention 1
  fi
  expect_ok_when_idle snapctl save
  etcdctl snapshot status "$SNAPSHOT_DIR/$OUT" >/dev/null || fail "$mode: the save after the disk-full is not valid"
  wait_for 30 sh -c "[ \"\$('$SNAPCTL_BIN' ls -o json | python3 -c 'import json,sys; print(\" \".join(r[\"name\"] for r in json.load(sys.stdin) if r[\"name\"].startswith(\"etcd-snapshot-\")))')\" != '$good' ]" ||
    fail "$mode: no newer scheduled snapshot replaced $good"
  scheduled_when_idle
  [ "$(echo "$SCHEDULED" | wc -l)" -eq 1 ] || fail "$mode: retention 1 keeps $SCHEDULED"
  # The rest is checked with the schedule stopped: its retention could delete a snapshot mid-check.
  stop_daemon
  start_daemon --etcd-disable-snapshots
  assert_no_part_files
  listed=$(assert_listed_valid)
  stop_daemon
  if [ "$mode" = tmpfs ]; then
    umount "$DB_DIR"
    MOUNTED=""
  fi
  matrix "disk-full-$mode" "$failed_runs scheduled + 1 manual save on a full disk" "$listed" \
    "failed naming '$want'; good snapshots kept" $((SECONDS - start))
}

if [ "$(id -u)" -eq 0 ] && d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" 2>/dev/null; then
  umount "$d"
  rmdir "$d"
  disk_full_case tmpfs
else
  log "mounting a tmpfs is not allowed here: only the RLIMIT_FSIZE variant runs"
fi
disk_full_case rlimit
log "ok"
