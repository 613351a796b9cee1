#!/usr/bin/env bash
# Ceph RGW (and etcd) behind fault proxies. Transient S3 faults (500, 503, SlowDown, a reset,
# a lost answer) on every step of an upload end in a good upload within etcd-s3-timeout;
# hard ones (resets and stalls on every attempt, S3 gone mid-save) keep the local copy, fail
# the save for s3 in snapctl, status, the log and the metrics, list nothing in S3 and leave no
# incomplete upload after the next run; retention never deletes a good snapshot for them.
source "$(dirname "$0")/lib.sh"

start_s3
start_etcd
for i in $(seq 1 200); do etcdctl_ put "key/$i" "value-$i" >/dev/null; done
start_proxy s3 "$S3_ENDPOINT" s3
start_proxy etcd "${ETCD_URL#http://}" etcd
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
B="/$S3_BUCKET"

s3_daemon() {
  # shellcheck disable=SC2046
  start_daemon_via etcd $(s3_proxy_flags s3) "$@"
  wait_for 30 sh -c "'$SNAPCTL_BIN' status | grep -q 's3 s3://.* ok$'" || fail "S3 not healthy: $(snapctl status)"
}
s3_failures() { metric 'k3s_snapd_snapshots_total{storage="s3",result="failure"}'; }
stored_in() { # NAME: the stores listing NAME, sorted, space-separated
  snapctl ls -o json | python3 -c '
import json, sys
print(" ".join(sorted(r["storage"] for r in json.load(sys.stdin) if r["name"] == sys.argv[1])))' "$1"
}

# --- Retention while S3 fails: scheduled saves (retention 1 in both stores) keep their good
# snapshot in S3 and locally while every upload fails; a later good save replaces it.
start=$SECONDS
s3_daemon --etcd-s3-timeout 3s --etcd-snapshot-schedule-cron '@every 2s' --etcd-snapshot-retention 1 \
  --etcd-s3-retention 1
wait_for 30 sh -c "[ \$(grep -c 'stored at s3://.*etcd-snapshot-' '$T/daemon.log') -ge 2 ]" ||
  fail "scheduled snapshots did not reach S3"
faults s3 "[{\"name\":\"put-reset\",\"method\":\"PUT\",\"path\":\"^$B/etcd-snapshot-\",\"action\":\"reset\",\"after_bytes\":1000}]"
failures=$(grep -c 'scheduled-save job .* failed' "$T/daemon.log" || true)
wait_for 30 sh -c "[ \$(grep -c 'scheduled-save job .* failed' '$T/daemon.log') -ge $((failures + 1)) ]" ||
  fail "no scheduled save failed with S3 resetting"
good=$(snapctl ls -o json | python3 -c '
import json, sys
names = {}
for r in json.load(sys.stdin):
    if r["name"].startswith("etcd-snapshot-"):
        names.setdefault(r["name"], set()).add(r["storage"])
print(" ".join(n for n, s in names.items() if s == {"local", "s3"}))')
[ "$(echo "$good" | wc -w)" -eq 1 ] || fail "expected one scheduled snapshot in both stores, got '$good'"
wait_for 40 sh -c "[ \$(grep -c 'scheduled-save job .* failed' '$T/daemon.log') -ge $((failures + 3)) ]" ||
  fail "scheduled saves stopped failing"
[ "$(stored_in "$good")" = "local s3" ] || fail "the good snapshot $good is no longer in both stores: $(stored_in "$good")"
grep 'scheduled-save job .* failed' "$T/daemon.log" | tail -n 1 | grep -q 'kept in local but not stored in s3' ||
  fail "the log does not say the upload failed: $(grep 'job .* failed' "$T/daemon.log" | tail -n 1)"
assert_contains "$(status_field 's["lastFailure"]["error"]')" "not stored in s3"
[ "$(s3_failures)" -ge 3 ] || fail "s3 failures not counted: $(s3_failures)"
listed=$(assert_listed_valid)
injected=$(faults_injected s3)
faults_off s3
wait_for 30 sh -c "! '$SNAPCTL_BIN' ls -o json | grep -q '\"$good\"'" || fail "no good save replaced $good"
wait_for 10 sh -c "[ \$('$SNAPCTL_BIN' ls -o json | grep -c '\"name\": \"etcd-snapshot-') -eq 2 ]" ||
  fail "retention 1 does not keep one scheduled snapshot per store: $(listed_names)"
stop_daemon
matrix s3-retention-while-failing "$injected resets of scheduled PutObjects" "$listed" \
  "good snapshot kept in both stores through $(($(grep -c 'scheduled-save job .* failed' "$T/daemon.log") - failures)) failed saves" $((SECONDS - start))

# --- Multipart uploads from here: a database of about 3 parts (8 MiB each).
fill_etcd 20
s3_daemon --etcd-disable-snapshots --etcd-s3-timeout 30s

# transient_case CASE RULES: a save with RULES on the S3 proxy succeeds, in both stores, the
# object equal to the local file, every rule having fired, retries counted, no upload left.
transient_case() {
  local case=$1 rules=$2 start=$SECONDS retries successes
  retries=$(metric k3s_snapd_s3_request_retries_total)
  successes=$(metric 'k3s_snapd_snapshots_total{storage="s3",result="success"}')
  faults s3 "$rules"
  expect_exit 0 snapctl save
  local name=$OUT took=$((SECONDS - start))
  [ "$(stored_in "$name")" = "local s3" ] || fail "$case: $name is in '$(stored_in "$name")'"
  local unfired
  unfired=$(proxy_stat s3 "' '.join(r['name'] for r in s['rules'] if r['applied'] == 0)")
  [ -z "$unfired" ] || fail "$case: rules never fired: $unfired"
  local injected
  injected=$(faults_injected s3)
  faults_off s3
  s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$name" -o "$T/object" || fail "$case: cannot fetch $name"
  cmp -s "$T/object" "$SNAPSHOT_DIR/$name" || fail "$case: the S3 object differs from the local file"
  assert_no_uploads
  [ "$(metric k3s_snapd_s3_request_retries_total)" -ge $((retries + 1)) ] || fail "$case: no retry counted"
  [ "$(metric 'k3s_snapd_snapshots_total{storage="s3",result="success"}')" -eq $((successes + 1)) ] ||
    fail "$case: the s3 success was not counted"
  matrix "$case" "$injected" "$(assert_listed_valid)" \
    "saved in both stores after $(($(metric k3s_snapd_s3_request_retries_total) - retries)) retries" "$took"
}

transient_case s3-transient-mix "[
  {\"name\":\"head-503\",\"method\":\"HEAD\",\"path\":\"^$B/on-demand-\",\"action\":\"status\",\"status\":503,\"nth\":1},
  {\"name\":\"create-slowdown\",\"method\":\"POST\",\"query\":\"^uploads\",\"action\":\"status\",\"status\":503,\"code\":\"SlowDown\",\"nth\":[1,2]},
  {\"name\":\"part-500\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"status\",\"status\":500,\"nth\":1},
  {\"name\":\"part-slowdown\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"status\",\"status\":503,\"code\":\"SlowDown\",\"nth\":2},
  {\"name\":\"part-503\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"status\",\"status\":503,\"nth\":3},
  {\"name\":\"part-reset\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"reset\",\"after_bytes\":1048576,\"nth\":4},
  {\"name\":\"part-answer-lost\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"status\",\"status\":500,\"at\":\"response\",\"nth\":5},
  {\"name\":\"complete-503\",\"method\":\"POST\",\"query\":\"^uploadId=\",\"action\":\"status\",\"status\":503,\"nth\":1},
  {\"name\":\"record-slowdown\",\"method\":\"PUT\",\"path\":\"^$B/.metadata/\",\"action\":\"status\",\"status\":503,\"code\":\"SlowDown\",\"nth\":1},
  {\"name\":\"record-500\",\"method\":\"PUT\",\"path\":\"^$B/.metadata/\",\"action\":\"status\",\"status\":500,\"nth\":2}]"
# CompleteMultipartUpload done by RGW but its answer lost (500, then a reset): the retry finds
# the upload gone and the object whole.
transient_case s3-complete-answer-lost "[
  {\"name\":\"complete-done-500\",\"method\":\"POST\",\"query\":\"^uploadId=\",\"action\":\"status\",\"status\":500,\"at\":\"response\",\"nth\":1}]"
transient_case s3-complete-answer-reset "[
  {\"name\":\"complete-done-reset\",\"method\":\"POST\",\"query\":\"^uploadId=\",\"action\":\"reset\",\"at\":\"response\",\"after_bytes\":-1,\"nth\":1}]"
transient_case s3-record-answer-lost "[
  {\"name\":\"record-done-503\",\"method\":\"PUT\",\"path\":\"^$B/.metadata/\",\"action\":\"status\",\"status\":503,\"at\":\"response\",\"nth\":1},
  {\"name\":\"part-stall-2s\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"delay\",\"seconds\":2,\"nth\":1}]"
stop_daemon

# hard_case CASE RULES WANT: with RULES on every attempt the save fails for s3 only, naming
# WANT, within the timeout; the local copy is kept, S3 lists nothing new, no upload is left.
s3_daemon --etcd-disable-snapshots --etcd-s3-timeout 5s
hard_case() {
  local case=$1 rules=$2 want=$3 start=$SECONDS failures log_before
  failures=$(s3_failures)
  log_before=$(wc -l <"$T/daemon.log")
  local s3_before
  s3_before=$(snapctl ls -o json | python3 -c 'import json,sys; print(sum(r["storage"] == "s3" for r in json.load(sys.stdin)))')
  faults s3 "$rules"
  expect_exit 1 snapctl save
  local took=$((SECONDS - start))
  assert_contains "$OUT" "kept in local but not stored in s3"
  assert_contains_any "$OUT" "$want"
  [ "$took" -le 20 ] || fail "$case: the save took $took s with etcd-s3-timeout 5s"
  local name
  name=$(ls -t "$SNAPSHOT_DIR" | grep '^on-demand-' | head -n 1)
  [ "$(stored_in "$name")" = "local" ] || fail "$case: $name is in '$(stored_in "$name")', want local only"
  etcdctl snapshot status "$SNAPSHOT_DIR/$name" >/dev/null || fail "$case: the kept local copy is not valid"
  local injected
  injected=$(faults_injected s3)
  faults_off s3
  local s3_after
  s3_after=$(snapctl ls -o json | python3 -c 'import json,sys; print(sum(r["storage"] == "s3" for r in json.load(sys.stdin)))')
  [ "$s3_after" -eq "$s3_before" ] || fail "$case: S3 lists $s3_after snapshots, had $s3_before"
  s3_keys | grep -q "$name" && fail "$case: $name left in the bucket: $(s3_keys)"
  assert_no_uploads
  assert_contains "$(status_field 's["lastFailure"]["error"]')" "not stored in s3"
  assert_contains "$(tail -n +"$((log_before + 1))" "$T/daemon.log" | grep 'job .* failed')" "not stored in s3"
  [ "$(s3_failures)" -eq $((failures + 1)) ] || fail "$case: the s3 failure was not counted"
  matrix "$case" "$injected" "$(assert_listed_valid)" "local kept, s3 failed in ${took}s: ${OUT##*: }" "$took"
}

hard_case s3-parts-reset "[{\"name\":\"part-reset\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"reset\",\"after_bytes\":262144}]" \
  "Connection reset by peer|Send failure|Recv failure"
hard_case s3-parts-stall "[{\"name\":\"part-stall\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"stall\",\"seconds\":60}]" \
  "Timeout was reached|timed out"
hard_case s3-create-503 "[{\"name\":\"create-503\",\"method\":\"POST\",\"query\":\"^uploads\",\"action\":\"status\",\"status\":503}]" \
  "ServiceUnavailable"
hard_case s3-complete-slowdown "[{\"name\":\"complete-slowdown\",\"method\":\"POST\",\"query\":\"^uploadId=\",\"action\":\"status\",\"status\":503,\"code\":\"SlowDown\"}]" \
  "SlowDown"
hard_case s3-record-cut "[{\"name\":\"record-cut\",\"method\":\"PUT\",\"path\":\"^$B/.metadata/\",\"action\":\"cut\",\"after_bytes\":10}]" \
  "PutObject"

# S3 gone for the whole upload, its abort included: the upload is left behind, but it is in
# the daemon's journal, so the next start aborts it at once, without waiting for the grace.
start=$SECONDS
faults s3 "[{\"name\":\"part-reset\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"reset\"},
  {\"name\":\"abort-reset\",\"method\":\"DELETE\",\"query\":\"^uploadId=\",\"action\":\"reset\"}]"
expect_exit 1 snapctl save
assert_contains "$OUT" "kept in local but not stored in s3"
injected=$(faults_injected s3)
faults_off s3
[ -n "$(s3_uploads)" ] || fail "expected the unabortable upload to be left"
[ -n "$(ls "$STATE_DIR/uploads")" ] || fail "the unabortable upload is not in the journal"
stop_daemon
aborted='aborted the upload of .*, left open by an interrupted save'
seen=$(grep -c -- "$aborted" "$T/daemon.log" || true)
s3_daemon --etcd-disable-snapshots --etcd-s3-timeout 5s
wait_for 15 log_has $((seen + 1)) "$aborted" || fail "the start did not abort the journaled upload"
assert_no_uploads
[ -z "$(ls "$STATE_DIR/uploads")" ] || fail "the journal still holds: $(ls "$STATE_DIR/uploads")"
expect_exit 0 snapctl save
assert_no_uploads
matrix s3-gone-abort-lost "$injected" "$(assert_listed_valid)" \
  "upload left, aborted at the next start (journaled: no grace)" $((SECONDS - start))

# An upload the daemon did not journal (k3s's, another node's) keeps its grace: spared while
# it may still be live, aborted once older than etcd-s3-incomplete-upload-grace.
start=$SECONDS
stop_daemon
foreign="etcd-snapshot-other-node-1700000000"
s3_curl -X POST "http://$S3_ENDPOINT/$S3_BUCKET/$foreign?uploads=" -o /dev/null ||
  fail "cannot create an upload"
s3_daemon --etcd-disable-snapshots --etcd-s3-timeout 5s --etcd-s3-incomplete-upload-grace 20m \
  --log-level debug
wait_for 15 log_has 1 'S3 cleanup finished' || fail "the start-up S3 cleanup did not run"
[ "$(s3_uploads)" = "$foreign" ] || fail "the sweep aborted an upload younger than its grace"
stop_daemon
# The proxy makes the upload look 21 minutes old to the daemon.
faults s3 "[{\"name\":\"age\",\"method\":\"GET\",\"query\":\"uploads\",\"action\":\"age\",\"seconds\":1260}]"
swept='removed 1 leftover(s) of interrupted saves from s3'
seen=$(grep -c -- "$swept" "$T/daemon.log" || true)
s3_daemon --etcd-disable-snapshots --etcd-s3-timeout 5s --etcd-s3-incomplete-upload-grace 20m
wait_for 15 log_has $((seen + 1)) "$swept" || fail "the start-up sweep did not report the leftover"
assert_no_uploads
faults_off s3
matrix s3-foreign-upload "an upload not ours" "$(assert_listed_valid)" \
  "kept within etcd-s3-incomplete-upload-grace, aborted past it" $((SECONDS - start))

# etcd's stream cut with parts already in S3: nothing in S3, no upload, nothing listed.
start=$SECONDS
before=$(snapctl ls -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
# Held for 2 s (the parts so far reach S3), then cut.
faults etcd "[{\"name\":\"cut\",\"path\":\"/v3/maintenance/snapshot\",\"action\":\"stall\",\"seconds\":2,\"at\":\"response\",\"after_bytes\":22000000}]"
proxy_lines=$(wc -l <"$T/proxy-s3.log")
expect_exit 1 snapctl save
assert_contains "$OUT" "transfer closed"
tail -n +"$((proxy_lines + 1))" "$T/proxy-s3.log" | grep -q 'PUT .*partNumber=.* -> 200' ||
  fail "no part was uploaded before the cut: the case tests nothing"
faults_off etcd
[ "$(snapctl ls -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq "$before" ] ||
  fail "a save cut by etcd is listed"
assert_no_uploads
assert_no_part_files
name=$(grep 'saving snapshot' "$T/daemon.log" | tail -n 1 | sed 's/.*saving snapshot //')
s3_keys | grep -q "$name" && fail "the cut save $name left objects: $(s3_keys)"
matrix s3-etcd-cut-mid-upload 1 "$(assert_listed_valid)" "failed, nothing in S3, no upload" $((SECONDS - start))
log "faults injected in all: s3 $(faults_total s3), etcd $(faults_total etcd)"
log "ok"
