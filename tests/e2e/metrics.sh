#!/usr/bin/env bash
# GET /metrics on the control socket and on metrics-address: text that `promtool check metrics`
# accepts, whose counters move after a good and a failed save; over TCP nothing else is served.
source "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || skip "promtool is not installed (Debian's prometheus package)"
command -v curl >/dev/null || skip "curl is not installed"

TOKEN="e2e-secret-token-value"
METRICS_PORT=$(free_port)
METRICS_URL="http://127.0.0.1:$METRICS_PORT"

# scrape [tcp]: fetches /metrics into $M (from the socket, or over TCP) and has promtool check it.
scrape() {
  if [ "${1:-}" = tcp ]; then
    M=$(curl -sf "$METRICS_URL/metrics") || fail "GET $METRICS_URL/metrics failed"
  else
    M=$(curl -sf --unix-socket "$K3S_SNAPD_SOCKET" http://localhost/metrics) ||
      fail "GET /metrics on the control socket failed"
  fi
  local problems
  problems=$(promtool check metrics <<<"$M" 2>&1) || fail "promtool check metrics: $problems
$M"
  [[ $M != *"$TOKEN"* ]] || fail "the token appears in /metrics"
}

# metric SERIES: the value of the sample SERIES ("name" or "name{labels}") in $M.
metric() {
  local value
  value=$(awk -v s="$1" '$1 == s { print $2 }' <<<"$M")
  [ -n "$value" ] || fail "no sample $1 in /metrics:
$M"
  echo "$value"
}

# expect_metric SERIES VALUE
expect_metric() {
  local got
  got=$(metric "$1")
  [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}

# wait_metric SECONDS SERIES VALUE: scrapes until SERIES has VALUE.
wait_metric() {
  local deadline=$((SECONDS + $1))
  until scrape && [ "$(awk -v s="$2" '$1 == s { print $2 }' <<<"$M")" = "$3" ]; do
    [ $SECONDS -lt $deadline ] || fail "$2 did not become $3 within $1 s"
    sleep 0.5
  done
}

# A unix time in $M is within a minute of now.
expect_recent() {
  python3 -c 'import sys, time; v = float(sys.argv[1]); sys.exit(0 if abs(time.time() - v) < 60 else 1)' \
    "$(metric "$1")" || fail "$1 is $(metric "$1"), not a time near now"
}

LOCAL_OK='k3s_snapd_snapshots_total{storage="local",result="success"}'
LOCAL_FAILED='k3s_snapd_snapshots_total{storage="local",result="failure"}'
STORED='k3s_snapd_stored_snapshots{storage="local"}'

start_etcd
start_daemon --etcd-disable-snapshots --token "$TOKEN" --metrics-address "127.0.0.1:$METRICS_PORT"

# Before any save: zeros, etcd up, nothing running.
wait_metric 30 k3s_snapd_etcd_up 1
expect_metric k3s_snapd_snapshot_last_success_timestamp_seconds 0
expect_metric k3s_snapd_snapshot_last_failure_timestamp_seconds 0
expect_metric "$LOCAL_OK" 0
expect_metric "$LOCAL_FAILED" 0
expect_metric "$STORED" 0
expect_metric k3s_snapd_snapshot_size_bytes 0
expect_metric k3s_snapd_snapshot_duration_seconds_count 0
expect_metric k3s_snapd_s3_request_retries_total 0
expect_metric k3s_snapd_job_running 0
expect_recent process_start_time_seconds
grep -q '^# TYPE k3s_snapd_snapshot_duration_seconds histogram$' <<<"$M" ||
  fail "k3s_snapd_snapshot_duration_seconds is not a histogram"
expect_metric 'k3s_snapd_snapshot_duration_seconds_bucket{le="+Inf"}' 0

# A good save moves the success counter, the last success time, the size and the count.
fill_etcd 2
name=$(snapctl save) || fail "save failed: $name"
scrape
expect_metric "$LOCAL_OK" 1
expect_metric "$LOCAL_FAILED" 0
expect_recent k3s_snapd_snapshot_last_success_timestamp_seconds
expect_metric k3s_snapd_snapshot_last_failure_timestamp_seconds 0
expect_metric k3s_snapd_snapshot_size_bytes "$(stat -c %s "$SNAPSHOT_DIR/$name")"
expect_metric k3s_snapd_snapshot_duration_seconds_count 1
expect_metric 'k3s_snapd_snapshot_duration_seconds_bucket{le="+Inf"}' 1
expect_metric "$STORED" 1

# The same over TCP; there, GET /metrics and /healthz are all there is.
scrape tcp
expect_metric "$LOCAL_OK" 1
expect_metric "$STORED" 1
[ "$(curl -s -o /dev/null -w '%{http_code}' "$METRICS_URL/healthz")" = 200 ] ||
  fail "GET /healthz over TCP is not 200"
for request in "POST /v1/snapshots" "DELETE /v1/snapshots/$name" "POST /v1/prune" \
  "GET /v1/status" "GET /v1/snapshots" "GET /v1/../metrics"; do
  read -r method target <<<"$request"
  code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -X "$method" \
    -H 'Content-Type: application/json' --data-binary '{}' "$METRICS_URL$target")
  [ "$code" = 404 ] || fail "$request over TCP answered $code, expected 404"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$METRICS_URL/metrics")" = 405 ] ||
  fail "POST /metrics over TCP is not 405"
[ "$(listed_names)" = "$name" ] || fail "a request over TCP changed the snapshots: $(listed_names)"

# Deleting updates the stored count.
snapctl delete "$name" >/dev/null || fail "delete failed"
scrape
expect_metric "$STORED" 0

# A failed save (etcd stopped) moves the failure counter and time, not the success ones.
success_time=$(metric k3s_snapd_snapshot_last_success_timestamp_seconds)
stop_etcd
expect_exit 1 snapctl save
scrape
expect_metric "$LOCAL_FAILED" 1
expect_metric "$LOCAL_OK" 1
expect_recent k3s_snapd_snapshot_last_failure_timestamp_seconds
expect_metric k3s_snapd_snapshot_last_success_timestamp_seconds "$success_time"
expect_metric k3s_snapd_snapshot_duration_seconds_count 1
wait_metric 60 k3s_snapd_etcd_up 0
scrape tcp
expect_metric "$LOCAL_FAILED" 1
kill -0 "$DAEMON_PID" || fail "daemon died"
log "ok"
