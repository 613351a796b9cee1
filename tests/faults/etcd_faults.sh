#!/usr/bin/env bash
# etcd's gateway behind a fault proxy: errors, a reset, a cut, a cleanly ended (truncated) and a
# corrupted snapshot stream, and a stall past the daemon's etcd stall timeout. Every such save
# fails, names the fault in snapctl, status, the log and the metrics, lists nothing and leaves
# no .part; retention keeps the last good scheduled snapshot; with the faults gone a save works.
source "$(dirname "$0")/lib.sh"

start_etcd
fill_etcd 3
start_proxy etcd "${ETCD_URL#http://}" etcd
SNAP=/v3/maintenance/snapshot

# A good scheduled snapshot first, kept by retention 1 while the faulty saves fail.
start_daemon_via etcd --etcd-snapshot-schedule-cron '@every 1s' --etcd-snapshot-retention 1
wait_for 30 log_has 2 'stored at .*etcd-snapshot-' || fail "no scheduled snapshot"
stop_daemon
good=$(ls "$SNAPSHOT_DIR" | grep '^etcd-snapshot-' | grep -v '\.part$' | tail -n 1)
[ -n "$good" ] || fail "no good scheduled snapshot"

# fault_case CASE RULE WANT: with RULE on the snapshot stream, a save fails naming WANT.
fault_case() {
  local case=$1 rule=$2 want=$3 start=$SECONDS failures_before log_before
  faults etcd "[$rule]"
  failures_before=$(metric 'k3s_snapd_snapshots_total{storage="local",result="failure"}')
  log_before=$(wc -l <"$T/daemon.log")
  expect_exit 1 snapctl save
  assert_contains "$OUT" "save failed"
  assert_contains_any "$OUT" "$want"
  [ "$(faults_injected etcd)" -ge 1 ] || fail "$case: the proxy injected nothing"
  local listed
  listed=$(listed_names | grep -v "^$good\$" || true)
  [ -z "$listed" ] || fail "$case: a failed save is listed: $listed"
  ls "$SNAPSHOT_DIR" | grep -q "^$good\$" || fail "$case: the good snapshot $good is gone"
  assert_no_part_files
  local error
  error=$(status_field 's["lastFailure"]["error"]')
  assert_contains_any "$error" "$want"
  assert_contains_any "$(tail -n +"$((log_before + 1))" "$T/daemon.log" | grep 'job .* failed')" "$want"
  [ "$(metric 'k3s_snapd_snapshots_total{storage="local",result="failure"}')" -eq $((failures_before + 1)) ] ||
    fail "$case: the local failure counter did not grow"
  kill -0 "$DAEMON_PID" || fail "$case: the daemon died"
  matrix "$case" "$(faults_injected etcd)" "$(assert_listed_valid)" "failed as expected: $want" $((SECONDS - start))
}

# The daemon's own stall timeout applies; the save cannot pass for a good one meanwhile.
start_daemon_via etcd --etcd-disable-snapshots
fault_case etcd-500 "{\"path\":\"$SNAP\",\"action\":\"status\",\"status\":500}" "HTTP 500"
fault_case etcd-503 "{\"path\":\"$SNAP\",\"action\":\"status\",\"status\":503,\"message\":\"etcdserver: leader changed\"}" \
  "leader changed"
fault_case etcd-reset "{\"path\":\"$SNAP\",\"action\":\"reset\",\"at\":\"response\",\"after_bytes\":1000000}" \
  "Connection reset by peer"
fault_case etcd-cut "{\"path\":\"$SNAP\",\"action\":\"cut\",\"at\":\"response\",\"after_bytes\":1500000}" \
  "transfer closed with outstanding read data remaining"
fault_case etcd-truncated "{\"path\":\"$SNAP\",\"action\":\"truncate\",\"at\":\"response\",\"after_bytes\":2000000}" \
  "etcd snapshot stream: cut inside a message"
fault_case etcd-empty "{\"path\":\"$SNAP\",\"action\":\"truncate\",\"at\":\"response\",\"after_bytes\":0}" \
  "etcd snapshot stream: ended before any data"
fault_case etcd-corrupt "{\"path\":\"$SNAP\",\"action\":\"corrupt\",\"at\":\"response\",\"after_bytes\":2500000}" \
  "trailer does not match|base64: invalid character"
fault_case etcd-stall "{\"path\":\"$SNAP\",\"action\":\"stall\",\"at\":\"response\",\"after_bytes\":800000,\"seconds\":120}" \
  "too slow"

# The faults gone, a save works and is whole.
start=$SECONDS
faults_off etcd
expect_exit 0 snapctl save
name=$OUT
etcdctl snapshot status "$SNAPSHOT_DIR/$name" >/dev/null || fail "the save after the faults is not valid"
matrix etcd-recovered 0 "$(assert_listed_valid)" "saved $name" $((SECONDS - start))
log "ok"
