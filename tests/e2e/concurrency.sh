#!/usr/bin/env bash
# Jobs never interleave (k3s #10371 corrupted snapshots that way): two saves at once, and a
# save racing delete, prune, verify and a scheduled save, are serialized or refused with a clear
# error; afterwards every listed snapshot verifies and nothing partial is left.
source "$(dirname "$0")/lib.sh"

start_etcd
fill_etcd 24
start_daemon --etcd-snapshot-compression zstd
expect_exit 0 snapctl save --name base
base=$OUT

# run_bg NAME COMMAND...: runs COMMAND in the background; its exit status and output land in
# $T/NAME.rc and $T/NAME.out. wait_bg waits for those (a bare `wait` would wait for etcd too).
BG=()
run_bg() {
  local name=$1
  shift
  ( set +e; "$@" >"$T/$name.out" 2>&1; echo $? >"$T/$name.rc" ) &
  BG+=($!)
}
wait_bg() {
  wait "${BG[@]}"
  BG=()
}

refused=0
for round in 1 2 3 4 5; do
  run_bg a snapctl save --no-progress
  run_bg b snapctl save --no-progress
  wait_bg
  ok=0
  for who in a b; do
    rc=$(cat "$T/$who.rc")
    if [ "$rc" -eq 0 ]; then
      ok=$((ok + 1))
    else
      grep -q "another job is running: save" "$T/$who.out" ||
        fail "round $round: a concurrent save failed without saying why: $(cat "$T/$who.out")"
      refused=$((refused + 1))
    fi
  done
  [ $ok -ge 1 ] || fail "round $round: neither of two concurrent saves succeeded"

  # A save with delete, prune and verify thrown at it while it streams.
  run_bg save snapctl save --no-progress
  sleep "0.0$((round * 2))"
  set +e
  del_out=$(snapctl delete "$base" 2>&1)
  del_rc=$?
  prune_out=$(snapctl prune --name on-demand --snapshot-retention 100 2>&1)
  prune_rc=$?
  verify_out=$(snapctl verify --all 2>&1)
  verify_rc=$?
  set -e
  wait_bg
  # On a busy machine the delete can get in first: the save is then refused, saying why.
  if [ "$(cat "$T/save.rc")" -ne 0 ]; then
    grep -q "another job is running" "$T/save.out" ||
      fail "round $round: the save failed: $(cat "$T/save.out")"
    refused=$((refused + 1))
  fi
  if [ $del_rc -ne 0 ]; then
    assert_contains "$del_out" "another job is running"
    refused=$((refused + 1))
  else
    # The delete ran before or after the save, never in the middle: re-create the base.
    expect_exit 0 snapctl save --name base
    base=$OUT
  fi
  [ $prune_rc -eq 0 ] || { assert_contains "$prune_out" "another job is running"; refused=$((refused + 1)); }
  [ $verify_rc -eq 0 ] || { assert_contains "$verify_out" "another job is running"; refused=$((refused + 1)); }
done
log "$refused operations were refused while another job ran"
[ $refused -ge 3 ] || fail "only $refused refusals: the race never happened, the test proves nothing"

# Whatever won each race, every listed snapshot is whole.
expect_exit 0 snapctl verify --all
count=$(grep -c '^OK' <<<"$OUT")
[ "$count" -eq "$(listed_names | wc -l)" ] || fail "not every listed snapshot verified: $OUT"
assert_no_part_files

# A scheduled save every second races on-demand saves: still one at a time, all whole.
stop_daemon
start_daemon --etcd-snapshot-compression zstd --etcd-snapshot-schedule-cron '@every 1s' \
  --etcd-snapshot-retention 2
for _ in 1 2 3 4 5 6; do
  set +e
  out=$(snapctl save --no-progress 2>&1)
  rc=$?
  set -e
  [ $rc -eq 0 ] || assert_contains "$out" "another job is running"
done
stop_daemon
start_daemon --etcd-snapshot-compression zstd
expect_exit 0 snapctl verify --all
[ "$(grep -c '^OK' <<<"$OUT")" -eq "$(listed_names | wc -l)" ] || fail "a snapshot does not verify: $OUT"
assert_no_part_files
log "ok"
