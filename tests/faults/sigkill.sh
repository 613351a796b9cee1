#!/usr/bin/env bash
# The daemon killed with SIGKILL at many points of a save with S3 (while etcd streams, at each
# step of the multipart upload, between the object and its record, while aborting), then
# restarted each time: only whole snapshots are ever listed, local or S3; after the next good
# scheduled save and the leftover sweep no .part, record without snapshot or incomplete
# multipart upload remains.
source "$(dirname "$0")/lib.sh"

start_s3
start_etcd
fill_etcd 20
start_proxy s3 "$S3_ENDPOINT" s3
start_proxy etcd "${ETCD_URL#http://}" etcd
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
B="/$S3_BUCKET"
SNAP=/v3/maintenance/snapshot
# The length of etcd's snapshot stream (JSON), to hold it at fractions of it.
STREAM=$(curl -sf -X POST -d '{}' "$ETCD_URL$SNAP" | wc -c)

s3_daemon() {
  # shellcheck disable=SC2046
  start_daemon_via etcd $(s3_proxy_flags s3) --etcd-s3-timeout 30s "$@"
}

# Triggers: what a kill point waits for before the SIGKILL.
logged() { # REGEX: the daemon logged REGEX since the save began
  tail -n +"$LOG_MARK" "$T/daemon.log" | grep -q "$1"
}
held() { # RULE [PROXY]: the proxy (default s3) holds a request of RULE
  [ "$(proxy_stat "${2:-s3}" "s['stalling'].get('$1', 0)")" -ge 1 ]
}
stream_hold() { # F: a rule holding etcd's stream after fraction F of it
  echo "{\"name\":\"h\",\"path\":\"$SNAP\",\"action\":\"stall\",\"seconds\":120,\"at\":\"response\",\"after_bytes\":$(python3 -c "print(int($STREAM * $1))")}"
}
hold() { # NAME METHOD PATH QUERY NTH [AT]: a rule holding the NTH match (at request or response)
  local at=${6:-request}
  echo "{\"name\":\"$1\",\"method\":\"$2\",\"path\":\"$3\",\"query\":\"$4\",\"nth\":$5,\"action\":\"stall\",\"seconds\":120,\"at\":\"$at\",\"after_bytes\":-1}"
}

POINTS=0
LAST_KILL=$SECONDS
# kill_point LABEL ETCD_RULES S3_RULES TRIGGER...: a save with the rules on, SIGKILL once
# TRIGGER succeeds, restart, and check that every listed snapshot is whole.
kill_point() {
  local label=$1 etcd_rules=$2 s3_rules=$3 start=$SECONDS
  shift 3
  faults etcd "$etcd_rules"
  faults s3 "$s3_rules"
  LOG_MARK=$(($(wc -l <"$T/daemon.log") + 1))
  save_bg
  wait_for 60 "$@" || fail "$label: the trigger '$*' never happened: $(snapctl status -o json)"
  kill_daemon
  LAST_KILL=$SECONDS
  save_wait
  local name
  name=$(grep 'saving snapshot' "$T/daemon.log" | tail -n 1 | sed 's/.*saving snapshot //')
  faults_off etcd
  faults_off s3
  s3_daemon --etcd-disable-snapshots
  local where listed
  where=$(snapctl ls -o json | python3 -c '
import json, sys
print("+".join(sorted(r["storage"] for r in json.load(sys.stdin) if r["name"] == sys.argv[1])) or "nowhere")' "$name")
  listed=$(assert_listed_valid)
  POINTS=$((POINTS + 1))
  matrix "kill-$label" "SIGKILL (save rc $SAVE_RC)" "$listed" "killed save listed in: $where" $((SECONDS - start))
}

s3_daemon --etcd-disable-snapshots
# etcd's stream held at fractions of it (the upload of what came runs alongside).
kill_point "stream-start" "[$(stream_hold 0)]" "[]" held h etcd
for f in 0.1 0.3 0.5 0.7 0.9 0.9999; do
  kill_point "stream-$f" "[$(stream_hold $f)]" "[]" held h etcd
done
# Each step of the multipart upload, held at the proxy: before RGW has it, or after RGW has
# done it but before the daemon hears so.
kill_point "create-upload" "[]" "[$(hold h POST "^$B/on-demand-" '^uploads' 1)]" held h
kill_point "part1-sent" "[]" "[$(hold h PUT "^$B/on-demand-" partNumber=1 1)]" held h
kill_point "part2-done" "[]" "[$(hold h PUT "^$B/on-demand-" partNumber=2 1 response)]" held h
kill_point "last-part-sent" "[]" "[$(hold h PUT "^$B/on-demand-" partNumber=3 1)]" held h
kill_point "complete-sent" "[]" "[$(hold h POST "^$B/on-demand-" '^uploadId=' 1)]" held h
kill_point "complete-done" "[]" "[$(hold h POST "^$B/on-demand-" '^uploadId=' 1 response)]" held h
kill_point "exists-check" "[]" "[$(hold h HEAD "^$B/on-demand-" '' 2)]" held h
kill_point "size-check" "[]" "[$(hold h HEAD "^$B/on-demand-" '' 3)]" held h
kill_point "record-sent" "[]" "[$(hold h PUT "^$B/.metadata/on-demand-" '' 1)]" held h
kill_point "record-done" "[]" "[$(hold h PUT "^$B/.metadata/on-demand-" '' 1 response)]" held h
# A failing upload's clean-up: the abort held, and the delete of an object whose record could
# not be written.
kill_point "abort" "[]" "[{\"name\":\"bad-part\",\"method\":\"PUT\",\"query\":\"partNumber=1\",\"action\":\"status\",\"status\":400,\"code\":\"InvalidArgument\"},
  $(hold h DELETE "^$B/on-demand-" '^uploadId=' 1)]" held h
kill_point "remove-object" "[]" "[{\"name\":\"bad-record\",\"method\":\"PUT\",\"path\":\"^$B/.metadata/\",\"action\":\"status\",\"status\":400,\"code\":\"InvalidArgument\"},
  $(hold h DELETE "^$B/on-demand-" '' 1 response)]" held h
kill_point "saved" "[]" "[]" logged "stored at s3://.*on-demand"
stop_daemon
log "$POINTS kill points; uploads left: $(s3_uploads | wc -l)"

# The next runs: wait out the local .part grace (10 s), make the leftovers look older than the
# S3 grace (10 min) to the daemon, and let a good scheduled save and the sweeps run.
start=$SECONDS
left=$((11 - (SECONDS - LAST_KILL)))
[ "$left" -le 0 ] || sleep "$left"
faults s3 "[{\"name\":\"age\",\"method\":\"GET\",\"query\":\"uploads|prefix=.metadata\",\"action\":\"age\",\"seconds\":660}]"
s3_daemon --etcd-snapshot-schedule-cron '@every 3s'
wait_for 60 sh -c "grep -q 'stored at s3://.*etcd-snapshot-' '$T/daemon.log'" || fail "no good scheduled save"
wait_for 20 sh -c "[ \$(grep -c 'stored at s3://.*etcd-snapshot-' '$T/daemon.log') -ge 2 ]" ||
  fail "no second scheduled save"
stop_daemon
assert_no_part_files
assert_no_uploads
assert_no_orphan_records
# In S3 too: every record has its snapshot.
keys=$(s3_keys)
while read -r key; do
  [ -n "$key" ] || continue
  base=${key#.metadata/}
  base=${base%.token}
  echo "$keys" | grep -qxF "$base" || fail "S3 record without snapshot left: $key"
done < <(echo "$keys" | grep '^\.metadata/' || true)
s3_daemon --etcd-disable-snapshots
listed=$(assert_listed_valid)
matrix "kill-aftermath" "$POINTS SIGKILLs before" "$listed" \
  "no .part, upload or orphan record after the sweeps" $((SECONDS - start))
log "ok"
