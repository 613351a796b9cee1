# Shared harness of the end-to-end tests: a temp dir, a real etcd on free loopback ports, the
# real k3s-snapd and snapctl, assertions, and teardown of every process started (by pid).
# Usage: source it, then call the functions; BUILD_DIR comes from meson's environment.
set -euo pipefail

: "${BUILD_DIR:?BUILD_DIR must point at the meson build dir}"
K3S_SNAPD="$BUILD_DIR/daemon/k3s-snapd"
SNAPCTL_BIN="$BUILD_DIR/daemon/snapctl"
T=$(mktemp -d /tmp/k3s-snapd-e2e.XXXXXX)
PIDS=()
ETCD_PID=""
DAEMON_PID=""
export K3S_SNAPD_SOCKET="$T/snapd.sock"
export ETCDCTL_API=3

cleanup() {
  local code=$?
  stop_s3
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ $code -ne 0 ] && [ $code -ne 77 ]; then
    for log in "$T"/*.log; do
      [ -f "$log" ] || continue
      echo "----- $(basename "$log") (last 30 lines)"
      tail -n 30 "$log"
    done
  fi
  rm -rf "$T"
  exit $code
}
trap cleanup EXIT

log() { echo "e2e: $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  echo "SKIP: $*"
  exit 77
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.1 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# start_etcd [--tls]: starts etcd in $T/etcd on free ports; sets ETCD_URL (and certs for TLS).
start_etcd() {
  local tls=${1:-}
  command -v etcd >/dev/null || skip "etcd is not installed (scripts/install-deps)"
  local client_port peer_port scheme=http
  client_port=$(free_port)
  peer_port=$(free_port)
  local extra=()
  if [ "$tls" = "--tls" ]; then
    scheme=https
    make_certs
    extra=(--client-cert-auth --trusted-ca-file "$T/pki/ca.crt" --cert-file "$T/pki/server.crt"
           --key-file "$T/pki/server.key")
  fi
  ETCD_URL="$scheme://127.0.0.1:$client_port"
  etcd --name e2e --data-dir "$T/etcd" \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "e2e=http://127.0.0.1:$peer_port" "${extra[@]}" >"$T/etcd.log" 2>&1 &
  ETCD_PID=$!
  PIDS+=("$ETCD_PID")
  wait_for 30 etcdctl_ endpoint health || fail "etcd did not start"
}

stop_etcd() {
  kill -KILL "$ETCD_PID" 2>/dev/null || true
  wait "$ETCD_PID" 2>/dev/null || true
}

job_running() {
  snapctl status -o json | python3 -c 'import json,sys; j=json.load(sys.stdin)["job"]; sys.exit(0 if j and j["state"] == "running" else 1)'
}

# save_with_etcd_frozen OUT: starts `snapctl save` (its output in OUT, its pid in SAVE_PID) and
# freezes etcd (SIGSTOP) while that save runs, however fast this machine streams: a save done
# before the freeze is followed by another, which then waits on the frozen etcd.
save_with_etcd_frozen() {
  snapctl save >"$1" 2>&1 &
  SAVE_PID=$!
  wait_for 20 job_running || wait_for 1 sh -c "! kill -0 $SAVE_PID" || fail "save did not start"
  kill -STOP "$ETCD_PID"
  if ! job_running; then
    wait "$SAVE_PID" || true
    snapctl save >"$1" 2>&1 &
    SAVE_PID=$!
    wait_for 20 job_running || fail "save did not start with etcd frozen"
  fi
}

etcdctl_() {
  if [[ $ETCD_URL == https://* ]]; then
    etcdctl --endpoints "$ETCD_URL" --cacert "$T/pki/ca.crt" --cert "$T/pki/client.crt" \
      --key "$T/pki/client.key" "$@"
  else
    etcdctl --endpoints "$ETCD_URL" "$@"
  fi
}

# A CA, a server certificate for 127.0.0.1 and a client certificate, as k3s makes for etcd.
make_certs() {
  local d="$T/pki"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=e2e-etcd-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=etcd-server" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=etcd-client" \
    -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/client.ext" -out "$d/client.crt" 2>/dev/null
}

# fill_etcd MEGABYTES: writes about that much data in 1 MB values (keys big/1...), three
# writers at once (about 1.15 MB of database per value).
fill_etcd() {
  head -c 750000 /dev/urandom | base64 -w0 >"$T/value"
  local writers=() w
  for w in 1 2 3; do
    (for ((i = w; i <= $1; i += 3)); do etcdctl_ put "big/$i" <"$T/value" >/dev/null; done) &
    writers+=("$!")
  done
  for w in "${writers[@]}"; do wait "$w" || fail "cannot fill etcd"; done
}

# etcd_db_size: the database size etcd reports, in bytes.
etcd_db_size() {
  etcdctl_ endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])'
}

SNAPSHOT_DIR="$T/data/server/db/snapshots"
# The daemon's lock and journal of saves in progress: one per test, never shared.
STATE_DIR="$T/state"
mkdir -p "$T/conf"

# start_daemon [FLAG...]: starts k3s-snapd against $ETCD_URL with its files under $T. A k3s
# installed on the machine is not read (--k3s-config none), unless FLAG names a k3s config.
start_daemon() {
  "$K3S_SNAPD" --config-dir "$T/conf" --k3s-config none --data-dir "$T/data" \
    --node-name e2e-node --etcd-endpoint "${ETCD_URL:-http://127.0.0.1:1}" \
    --control-socket "$K3S_SNAPD_SOCKET" --state-dir "$STATE_DIR" "$@" >>"$T/daemon.log" 2>&1 &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  wait_for 15 test -S "$K3S_SNAPD_SOCKET" || fail "k3s-snapd did not create its socket"
  wait_for 15 "$SNAPCTL_BIN" status || fail "k3s-snapd does not answer"
}

stop_daemon() {
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$DAEMON_PID" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "k3s-snapd did not stop within 10 s of SIGTERM"
    sleep 0.1
  done
  wait "$DAEMON_PID" 2>/dev/null || true
}

snapctl() { "$SNAPCTL_BIN" "$@"; }

# expect_exit CODE COMMAND...: runs COMMAND, fails unless it exits CODE; output in $OUT.
expect_exit() {
  local want=$1
  shift
  set +e
  OUT=$("$@" 2>&1)
  local got=$?
  set -e
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want; output: $OUT"
}

# expect_ok_when_idle COMMAND...: like `expect_exit 0`, but beside a fast schedule a command
# may meet a running scheduled save and be refused, as it must be; it is tried again then.
expect_ok_when_idle() {
  local deadline=$((SECONDS + 20)) got
  while :; do
    set +e
    OUT=$("$@" 2>&1)
    got=$?
    set -e
    [ "$got" -eq 0 ] && return 0
    [[ $OUT == *"another job is running"* && $SECONDS -lt $deadline ]] ||
      fail "'$*' exited $got, expected 0; output: $OUT"
    sleep 0.3
  done
}

# log_has N REGEX: the daemon's log has at least N lines matching REGEX.
log_has() { [ "$(grep -c -- "$2" "$T/daemon.log")" -ge "$1" ]; }

api_get() { curl -sf --unix-socket "$K3S_SNAPD_SOCKET" "http://localhost$1"; }
api_post() { curl -sf --unix-socket "$K3S_SNAPD_SOCKET" -X POST --data-binary "$2" "http://localhost$1"; }
# job_field ID EXPR: a Python expression over job ID (GET /v1/jobs/ID) as `j`, printed.
job_field() {
  api_get "/v1/jobs/$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"
}

# job_streamed ID BYTES: job ID has streamed more than BYTES. Asked with curl alone: starting
# python (or `snapctl status`, which also probes etcd) can take a second while etcd streams.
job_streamed() {
  [[ $(api_get "/v1/jobs/$1") =~ \"bytes\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt "$2" ]
}

# jobs_mark: "STATE ID" of the newest job the daemon has made ("idle 0" before any): STATE is
# running or idle. Job ids only grow and jobs run one at a time, so an unchanged idle mark
# means no job ran in between. Asked of the job API only (cheap: status also probes etcd).
jobs_mark() {
  local id
  # The id found last time, while it is still this daemon's (ids restart with the daemon).
  id=$(cat "$T/jobs.latest" 2>/dev/null) && { [ "$id" -eq 0 ] || api_get "/v1/jobs/$id" >/dev/null; } ||
    id=$(snapctl status -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(max([0] + [x["job"] for x in (s["lastSuccess"], s["lastFailure"]) if x] + ([s["job"]["id"]] if s["job"] else [])))')
  while api_get "/v1/jobs/$((id + 1))" >/dev/null; do id=$((id + 1)); done
  echo "$id" >"$T/jobs.latest"
  if [ "$id" -gt 0 ] && [[ $(api_get "/v1/jobs/$id") == *'"state":"running"'* ]]; then
    echo "running $id"
  else
    echo "idle $id"
  fi
}

# names_in LISTING: the names in LISTING (an answer of GET /v1/snapshots), one a line. Taking
# the listing with api_get and reading it afterwards keeps a while_idle view short.
names_in() {
  python3 -c 'import json,sys; sys.stdout.write("".join(r["name"] + "\n" for r in json.loads(sys.argv[1])["snapshots"]))' "$1"
}

# take_listing: GET /v1/snapshots into $LISTING, a short view for while_idle.
# shellcheck disable=SC2034 # read by the scripts
take_listing() { LISTING=$(api_get /v1/snapshots); }

# while_idle COMMAND...: runs COMMAND in this shell (it may set variables, it should only look)
# while no job runs and none starts: the daemon is idle before it and no job has started after
# it, else it runs again (for up to 60 s). Whatever COMMAND read is then one consistent view,
# even beside a fast schedule whose next save could otherwise fall between two reads. COMMAND
# must take less time than the schedule leaves between two saves.
while_idle() {
  local deadline=$((SECONDS + 60)) before
  while :; do
    before=$(jobs_mark)
    if [[ $before == idle* ]]; then
      "$@"
      [ "$(jobs_mark)" = "$before" ] && return 0
    fi
    [ $SECONDS -lt $deadline ] || fail "the daemon was never idle while '$*' ran"
    sleep 0.1
  done
}

assert_contains() {
  [[ $1 == *"$2"* ]] || fail "expected output to contain '$2', got: $1"
}

# Names of listed snapshots, one a line. Written in one piece, so a reader that stops early
# (`| head -n 1`, `| grep -q`) finds them in the pipe instead of failing the writer with EPIPE.
listed_names() {
  snapctl ls -o json |
    python3 -c 'import json,sys; sys.stdout.write("".join(r["name"] + "\n" for r in json.load(sys.stdin)))'
}

no_part_files() { [ -z "$(find "$SNAPSHOT_DIR" -name '*.part' 2>/dev/null)" ]; }
assert_no_part_files() {
  no_part_files || fail "found .part files: $(ls "$SNAPSHOT_DIR")"
}

# start_s3: a real, signature-checking S3 (Ceph RGW) in $T/rgw with bucket $S3_BUCKET;
# exports S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION. Skips where RGW is missing.
S3_BUCKET=snapshots
start_s3() {
  command -v radosgw >/dev/null || skip "Ceph RGW is not installed (scripts/install-deps)"
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  S3_SERVER="$root/scripts/s3-test-server"
  "$S3_SERVER" start "$T/rgw" >"$T/rgw-start.log" 2>&1 || {
    cat "$T/rgw-start.log"
    fail "RGW did not start"
  }
  S3_STARTED=1
  set -a
  # shellcheck disable=SC1091
  source "$T/rgw/env"
  set +a
  s3_curl -X PUT "http://$S3_ENDPOINT/$S3_BUCKET" -o /dev/null || fail "cannot create bucket"
}

stop_s3() {
  if [ -n "${S3_STARTED:-}" ]; then
    "$S3_SERVER" stop "$T/rgw" >/dev/null 2>&1 || true
    S3_STARTED=""
  fi
}

# curl signing with SigV4 as the S3 user (curl's own signer, independent of ours).
s3_curl() {
  curl -sf --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# Flags that point the daemon at the test S3.
s3_flags() {
  echo --etcd-s3 --etcd-s3-endpoint "$S3_ENDPOINT" --etcd-s3-insecure --etcd-s3-bucket "$S3_BUCKET" \
    --etcd-s3-region "$S3_REGION"
}
