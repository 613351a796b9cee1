#!/usr/bin/env bash
# Three k3s servers' etcd members on loopback, a daemon beside each, one S3 behind a fault proxy:
# with etcd-s3-upload-by one-server, every scheduled run is uploaded by exactly one server (the
# one whose claim in etcd won), while each server keeps its own snapshot locally, and S3
# retention never leaves fewer than its count; a server beside a learner takes no scheduled
# snapshot; a server killed (SIGKILL) while it uploads a run is replaced by another within 60 s;
# with one etcd member stopped, the other two servers go on.
source "$(dirname "$0")/lib.sh"

command -v etcd >/dev/null || skip "etcd is not installed (scripts/install-deps)"
declare -A CLIENT PEER EPID DPID
cluster=""
for i in 1 2 3; do
  CLIENT[$i]=$(free_port)
  PEER[$i]=$(free_port)
  cluster+="${cluster:+,}m$i=http://127.0.0.1:${PEER[$i]}"
done
for i in 1 2 3; do
  etcd --name "m$i" --data-dir "$T/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${CLIENT[$i]}" \
    --advertise-client-urls "http://127.0.0.1:${CLIENT[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${PEER[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${PEER[$i]}" \
    --initial-cluster "$cluster" --initial-cluster-state new >"$T/etcd$i.log" 2>&1 &
  EPID[$i]=$!
  PIDS+=("$!")
done
ETCD_URL="http://127.0.0.1:${CLIENT[1]}"
ALL_ETCD="http://127.0.0.1:${CLIENT[1]},http://127.0.0.1:${CLIENT[2]},http://127.0.0.1:${CLIENT[3]}"
wait_for 60 etcdctl --endpoints "$ALL_ETCD" endpoint health || fail "the etcd cluster did not start"
# Something to snapshot: about 1 MB, so that a throttled upload takes a few seconds.
head -c 300000 /dev/urandom | base64 -w0 >"$T/value"
for k in 1 2 3; do etcdctl --endpoints "$ALL_ETCD" put "data/$k" <"$T/value" >/dev/null; done

start_s3
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
start_proxy s3 "$S3_ENDPOINT" s3
S3_ENDPOINT="127.0.0.1:$(proxy_port s3)"

start_server() { # I [FLAG...]
  local i=$1
  shift
  mkdir -p "$T/conf$i"
  # shellcheck disable=SC2046
  "$K3S_SNAPD" --config-dir "$T/conf$i" --data-dir "$T/data$i" --node-name "server-$i" \
    --etcd-endpoint "http://127.0.0.1:${CLIENT[$i]}" --control-socket "$T/s$i.sock" \
    --state-dir "$T/state$i" --k3s-config none $(s3_flags) --etcd-snapshot-schedule-cron '@every 3s' \
    --etcd-snapshot-retention 200 --etcd-s3-retention 3 "$@" >>"$T/daemon$i.log" 2>&1 &
  DPID[$i]=$!
  PIDS+=("$!")
  wait_for 15 env K3S_SNAPD_SOCKET="$T/s$i.sock" "$SNAPCTL_BIN" status ||
    fail "k3s-snapd server-$i does not answer"
}
on() { # I COMMAND...: snapctl of server I
  local i=$1
  shift
  K3S_SNAPD_SOCKET="$T/s$i.sock" "$SNAPCTL_BIN" "$@"
}
claims() { etcdctl --endpoints "$ALL_ETCD" get --prefix /k3s-snapd/upload-claims/ -w json; }

# ready_runs: "N" ready claims; s3_matches_claims I: server I's S3 listing holds only snapshots
# of ready claims (a second upload of a run would be one no claim names), and S3 retention (3,
# run by each run's uploader alone) never left fewer than 3 once 3 runs were uploaded.
ready_runs() {
  claims | python3 -c '
import base64, json, sys
kvs = json.load(sys.stdin).get("kvs", [])
print(sum(json.loads(base64.b64decode(kv["value"]))["state"] == "ready" for kv in kvs))'
}
s3_matches_claims() {
  python3 - "$(claims)" "$(on "$1" ls -o json)" <<'PY'
import base64, json, sys
kvs = json.loads(sys.argv[1]).get("kvs", [])
claims = [json.loads(base64.b64decode(kv["value"])) for kv in kvs]
ready = {c["snapshot"] for c in claims if c["state"] == "ready"}
s3 = [r["name"] for r in json.loads(sys.argv[2]) if r["storage"] == "s3"]
# An upload between its commit and its claim's "ready" is the one way to differ: look again.
sys.exit(0 if set(s3) <= ready and len(s3) >= min(3, len(ready)) else 1)
PY
}

for i in 1 2 3; do start_server "$i"; done
log "three servers, one upload per run"
runs_at_least() { [ "$(ready_runs)" -ge "$1" ]; }
wait_for 90 runs_at_least 4 || fail "fewer than 4 runs uploaded: $(claims)"
wait_for 30 s3_matches_claims 1 || fail "S3 does not hold one snapshot per run: claims $(claims); S3 $(on 1 ls)"
# And every upload any server made is the one of a run's claim: as many as runs, no more.
uploads_logged() { cat "$T"/daemon*.log | grep -c "stored at s3://"; }
one_upload_per_run() { [ "$(uploads_logged)" -eq "$(ready_runs)" ]; }
wait_for 30 one_upload_per_run ||
  fail "$(uploads_logged) uploads for $(ready_runs) runs: $(grep -h 'stored at s3://' "$T"/daemon*.log)"
for i in 1 2 3; do
  # Each server keeps its own local snapshots of the runs, uploaded or not.
  locals=$(on "$i" ls -o json | python3 -c 'import json,sys; print(sum(r["storage"] == "local" for r in json.load(sys.stdin)))')
  [ "$locals" -ge 3 ] || fail "server-$i has $locals local snapshots"
done
grep -q 'won the upload claim' "$T"/daemon*.log || fail "no server logged a won claim"
grep -q 'the upload claim is held by server-' "$T"/daemon*.log || fail "no server logged a lost claim"
status=$(on 1 status -o json)
python3 -c 'import json,sys; s=json.loads(sys.argv[1])["schedule"]; assert s["uploadBy"] == "one-server" and s["lastUpload"]["node"].startswith("server-"), s' "$status" ||
  fail "status does not say who uploaded: $status"
assert_contains "$(on 1 status)" "s3 upload:"

log "a server whose etcd member is a learner takes no scheduled snapshot"
CLIENT[4]=$(free_port)
PEER[4]=$(free_port)
etcdctl --endpoints "$ALL_ETCD" member add m4 --learner --peer-urls "http://127.0.0.1:${PEER[4]}" \
  >"$T/member-add.log" 2>&1 || fail "cannot add a learner: $(cat "$T/member-add.log")"
etcd --name m4 --data-dir "$T/etcd4" \
  --listen-client-urls "http://127.0.0.1:${CLIENT[4]}" \
  --advertise-client-urls "http://127.0.0.1:${CLIENT[4]}" \
  --listen-peer-urls "http://127.0.0.1:${PEER[4]}" \
  --initial-advertise-peer-urls "http://127.0.0.1:${PEER[4]}" \
  --initial-cluster "$cluster,m4=http://127.0.0.1:${PEER[4]}" --initial-cluster-state existing \
  >"$T/etcd4.log" 2>&1 &
EPID[4]=$!
PIDS+=("$!")
start_server 4
learner_seen() { grep -q "this etcd member is a learner" "$T/daemon4.log"; }
wait_for 30 learner_seen || fail "server-4 did not see itself as a learner: $(tail -n 5 "$T/daemon4.log")"
! grep -q "saving snapshot" "$T/daemon4.log" || fail "the learner's server took a scheduled snapshot"
kill -KILL "${DPID[4]}" "${EPID[4]}"

log "the uploading server killed mid-upload: another one uploads its run"
# Uploads now crawl (about 100 KB/s), so the holder is caught while it sends.
faults s3 '[{"name": "slow", "method": "PUT", "action": "throttle", "rate": 100000}]'
holder_run=""
holder=""
find_uploading() {
  read -r holder_run holder < <(claims | python3 -c '
import base64, json, sys
for kv in json.load(sys.stdin).get("kvs", []):
    c = json.loads(base64.b64decode(kv["value"]))
    if c["state"] == "uploading":
        print(base64.b64decode(kv["key"]).decode(), c["node"]); break
else:
    sys.exit(1)') && [ -n "$holder" ]
}
wait_for 60 find_uploading || fail "no upload in progress to interrupt: $(claims)"
victim=${holder#server-}
kill -KILL "${DPID[$victim]}"
log "killed $holder holding $holder_run"
faults_off s3
run_ready_by_other() {
  etcdctl --endpoints "$ALL_ETCD" get "$holder_run" --print-value-only |
    python3 -c 'import json,sys; c=json.load(sys.stdin); sys.exit(0 if c["state"] == "ready" and c["node"] != sys.argv[1] else 1)' "$holder"
}
wait_for 60 run_ready_by_other || fail "no other server uploaded $holder_run within 60 s: $(etcdctl --endpoints "$ALL_ETCD" get "$holder_run")"
taker=$(etcdctl --endpoints "$ALL_ETCD" get "$holder_run" --print-value-only | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"])')
grep -q "gave up its upload; uploading" "$T/daemon${taker#server-}.log" ||
  fail "$taker did not log its takeover"
other=1
[ "$victim" = 1 ] && other=2
wait_for 30 s3_matches_claims "$other" || fail "S3 differs from the claims after the takeover"

log "one etcd member stopped: the others go on"
stopped=$victim  # its daemon is gone already; stop its etcd member too
kill -KILL "${EPID[$stopped]}"
before=$(ready_runs)
wait_for 60 runs_at_least $((before + 2)) || fail "runs stopped with one etcd member down: $(claims)"
log "ok"
