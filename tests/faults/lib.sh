# shellcheck shell=bash
# Harness of the fault tests: the e2e harness (tests/e2e/lib.sh) plus fault proxies in front of
# etcd and RGW, checks that nothing partial is listed or left behind, and the case matrix.
# Usage: source it from a script in tests/faults/; BUILD_DIR comes from meson's environment.
FAULTS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$FAULTS_HERE/../e2e/lib.sh"
FAULT_PROXY="$FAULTS_HERE/fault_proxy.py"
FAULTS_SCRIPT=$(basename "$0" .sh)

log() { echo "faults[$FAULTS_SCRIPT]: $*"; }

# What a run leaves in $BUILD_DIR/faults-logs/SCRIPT/ for the reliability notes and for
# failures: matrix.tsv, one line per case (script, case, faults injected, snapshots listed and
# checked, result, seconds), and at exit the logs of the daemon and of the proxies (each
# request and the fault applied) and the proxies' counters of faults injected.
FAULTS_LOG_DIR="$BUILD_DIR/faults-logs/$FAULTS_SCRIPT"
rm -rf "$FAULTS_LOG_DIR"
mkdir -p "$FAULTS_LOG_DIR"
MATRIX_FILE="$FAULTS_LOG_DIR/matrix.tsv"
: >"$MATRIX_FILE"
faults_exit() {
  local code=$?
  set +e
  mkdir -p "$FAULTS_LOG_DIR"
  cp "$T"/*.log "$T"/proxy-*.stats.json "$FAULTS_LOG_DIR"/ 2>/dev/null
  (exit $code)
  cleanup
}
trap faults_exit EXIT

# start_proxy NAME HOST:PORT KIND: a fault proxy (KIND s3 or etcd) forwarding to HOST:PORT;
# its port is in $T/proxy-NAME.port (proxy_port NAME), its requests in $T/proxy-NAME.log.
start_proxy() {
  local name=$1 upstream=$2 kind=$3
  rm -f "$T/proxy-$name.port"
  python3 "$FAULT_PROXY" --upstream "$upstream" --kind "$kind" --port-file "$T/proxy-$name.port" \
    --stats "$T/proxy-$name.stats.json" --log "$T/proxy-$name.log" 2>>"$T/proxy-$name.log" &
  PIDS+=("$!")
  wait_for 10 test -s "$T/proxy-$name.port" || fail "fault proxy $name did not start"
}

proxy_port() { cat "$T/proxy-$1.port"; }
proxy_url() { echo "http://127.0.0.1:$(proxy_port "$1")"; }

# faults NAME JSON: replaces the rules of proxy NAME (counters restart).
faults() {
  curl -sf -X POST --data-binary "$2" "$(proxy_url "$1")/__faults" >/dev/null ||
    fail "proxy $1 refused the rules: $2"
}
faults_off() { faults "$1" '[]'; }

# proxy_stat NAME EXPR: a Python expression over the proxy's statistics `s`, printed.
proxy_stat() {
  curl -sf "$(proxy_url "$1")/__faults" | python3 -c "import json,sys; s=json.load(sys.stdin); print($2)"
}
# faults_injected NAME: faults the current rules of proxy NAME injected.
faults_injected() { proxy_stat "$1" "sum(r['applied'] for r in s['rules'] if r['action'] != 'count')"; }
# faults_total NAME: faults proxy NAME injected since it started.
faults_total() { proxy_stat "$1" "s['faults_injected']"; }

# Flags that point the daemon at the test S3 through proxy NAME.
s3_proxy_flags() {
  echo --etcd-s3 --etcd-s3-endpoint "127.0.0.1:$(proxy_port "$1")" --etcd-s3-insecure \
    --etcd-s3-bucket "$S3_BUCKET" --etcd-s3-region "$S3_REGION"
}

# start_daemon_via ETCD_PROXY [FLAG...]: the daemon with etcd behind proxy ETCD_PROXY ("" for
# etcd itself); etcdctl in the tests keeps talking to etcd directly.
start_daemon_via() {
  local via=$1
  shift
  if [ -n "$via" ]; then
    ETCD_URL=$(proxy_url "$via") start_daemon "$@"
  else
    start_daemon "$@"
  fi
}

# kill_daemon: SIGKILL, as a crash or the OOM killer would.
kill_daemon() {
  kill -KILL "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
}

metrics() { curl -sf --unix-socket "$K3S_SNAPD_SOCKET" http://localhost/metrics; }
# metric SERIES: the value of one series, e.g. 'k3s_snapd_snapshots_total{storage="s3",result="failure"}'
# (0 when absent).
metric() {
  metrics | python3 -c '
import sys
want = sys.argv[1]
for line in sys.stdin:
    name, _, value = line.rstrip("\n").rpartition(" ")
    if name == want:
        print(int(float(value)) if float(value).is_integer() else value)
        break
else:
    print(0)' "$1"
}

# status_field EXPR: a Python expression over `snapctl status -o json` as `s`.
status_field() {
  snapctl status -o json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# Incomplete multipart uploads in the bucket, asked of RGW directly; prints their keys.
s3_uploads() {
  s3_curl "http://$S3_ENDPOINT/$S3_BUCKET?uploads=" | python3 -c '
import re, sys
for key in re.findall(r"<Upload>.*?<Key>(.*?)</Key>", sys.stdin.read(), re.S):
    print(key)'
}
assert_no_uploads() {
  local left
  left=$(s3_uploads) || fail "cannot list multipart uploads"
  [ -z "$left" ] || fail "incomplete multipart uploads left: $left"
}

# Objects in the bucket (keys, one a line), asked of RGW directly.
s3_keys() {
  s3_curl "http://$S3_ENDPOINT/$S3_BUCKET?list-type=2&max-keys=1000" | python3 -c '
import re, sys
for key in re.findall(r"<Contents>.*?<Key>(.*?)</Key>", sys.stdin.read(), re.S):
    print(key)'
}
# Objects in the bucket without their record (.metadata/KEY), one a line.
s3_objects_without_record() {
  local keys
  keys=$(s3_keys) || fail "cannot list the bucket"
  python3 -c '
import sys
keys = set(sys.argv[1].split("\n"))
for key in sorted(keys):
    if key and not key.startswith(".metadata/") and ".metadata/" + key not in keys:
        print(key)' "$keys"
}
no_object_without_record() { [ -z "$(s3_objects_without_record)" ]; }
no_uploads() { [ -z "$(s3_uploads)" ]; }

# running_snapshot: prints the running job's snapshot; fails while there is none.
running_snapshot() {
  snapctl status -o json | python3 -c '
import json, sys
j = json.load(sys.stdin)["job"]
if not (j and j.get("snapshot")):
    sys.exit(1)
print(j["snapshot"])'
}
# listed_in NAME STORAGE: NAME is listed ready in STORAGE.
listed_in() {
  snapctl ls -o json | python3 -c '
import json, sys
sys.exit(0 if any(r["name"] == sys.argv[1] and r["storage"] == sys.argv[2] and r["status"] == "ready"
                  for r in json.load(sys.stdin)) else 1)' "$1" "$2"
}

# assert_listed_valid: every listed snapshot is whole. A local copy must pass `etcdctl snapshot
# status` and match its record's size and sha256; an S3 copy must hold the same bytes as the
# local copy of that name (or, without one, be a valid etcd snapshot matching its record).
# Prints how many copies are listed. Copies already checked (in $T/checked) are not fetched
# again: stored snapshots never change.
assert_listed_valid() {
  local json name storage size sha file listed=0
  json=$(snapctl ls -o json) || fail "snapctl ls failed: $json"
  touch "$T/checked"
  while IFS='|' read -r name storage size sha status; do
    [ -n "$name" ] || continue
    [ "$status" = "ready" ] || fail "$storage $name is listed as $status"
    listed=$((listed + 1))
    grep -qxF "$storage $name" "$T/checked" && continue
    if [ "$storage" = local ]; then
      file="$SNAPSHOT_DIR/$name"
    else
      file="$T/fetched"
      s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$name" -o "$file" || fail "cannot fetch listed $name from S3"
      if [ -f "$SNAPSHOT_DIR/$name" ]; then
        cmp -s "$file" "$SNAPSHOT_DIR/$name" || fail "S3 copy of $name differs from the local one"
      fi
    fi
    [ "$(stat -c %s "$file")" = "$size" ] || fail "$storage $name: $(stat -c %s "$file") bytes, listed with $size"
    if [ -n "$sha" ]; then
      [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sha" ] || fail "$storage $name: sha256 differs from its record"
    fi
    etcdctl snapshot status "$file" >/dev/null 2>&1 || fail "$storage $name is not a valid etcd snapshot"
    echo "$storage $name" >>"$T/checked"
  done < <(python3 -c '
import json, sys
for r in json.loads(sys.argv[1]):
    print("|".join([r["name"], r["storage"], str(r["size"]), r.get("sha256", ""), r["status"]]))' "$json")
  echo "$listed"
}

# Leftover local records: files in .metadata without their snapshot (after a sweep).
assert_no_orphan_records() {
  local dir="$SNAPSHOT_DIR/../.metadata" f
  [ -d "$dir" ] || return 0
  for f in "$dir"/*; do
    [ -e "$f" ] || continue
    [ -f "$SNAPSHOT_DIR/$(basename "$f")" ] || fail "record without snapshot left: $f"
  done
}

# assert_contains_any TEXT 'A|B|...': TEXT contains one of the alternatives.
assert_contains_any() {
  local alt
  local -a alts
  IFS='|' read -ra alts <<<"$2"
  for alt in "${alts[@]}"; do [[ $1 == *"$alt"* ]] && return 0; done
  fail "expected output to contain one of '$2', got: $1"
}

# matrix CASE FAULTS CHECKED RESULT SECONDS: one line of the case matrix.
matrix() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$FAULTS_SCRIPT" "$1" "$2" "$3" "$4" "$5" >>"$MATRIX_FILE"
  log "case $1: faults=$2 checked=$3 $4 (${5}s)"
}

# A save run in the background: save_bg; ...; save_wait -> exit code in $SAVE_RC, output in
# $T/save.out.
save_bg() {
  snapctl save "$@" >"$T/save.out" 2>&1 &
  SAVE_PID=$!
}
save_wait() {
  set +e
  wait "$SAVE_PID"
  # shellcheck disable=SC2034 # read by the scripts
  SAVE_RC=$?
  set -e
}

