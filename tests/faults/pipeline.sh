#!/usr/bin/env bash
# The save pipeline against etcd and Ceph RGW with part uploads throttled by the fault proxy:
# a slow S3 never holds up the local copy (listed ready while the upload runs, peak memory
# within 32 MiB), the local file and the S3 object are the same bytes (plain and zstd+age), and
# a save cancelled mid-stream, by `snapctl cancel` or by SIGTERM, leaves nothing in either store.
source "$(dirname "$0")/lib.sh"

MIB=$((1024 * 1024))
PART=$((8 * MIB))  # the daemon's part size below 9000 parts
CONCURRENCY=2
RATE=$((2 * MIB)) # bytes per second of each part upload

start_s3
start_etcd
fill_etcd 48
start_proxy s3 "$S3_ENDPOINT" s3
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
throttle_parts() {
  faults s3 "[{\"name\":\"slow-parts\",\"method\":\"PUT\",\"query\":\"partNumber=\",\"action\":\"throttle\",\"rate\":$RATE}]"
}

vm() { awk -v k="$2:" '$1 == k {print $2 * 1024}' "/proc/$1/status"; }
job_bytes() {
  snapctl status -o json | python3 -c '
import json, sys
j = json.load(sys.stdin)["job"]
print(j["bytes"] if j else -1)'
}
# assert_gone NAME: no trace of NAME in either store, and no upload left in RGW.
assert_gone() {
  assert_no_part_files
  [ ! -e "$SNAPSHOT_DIR/$1" ] || fail "$1 is in the snapshot dir"
  ! s3_keys | grep -q "$1" || fail "$1 left in S3: $(s3_keys | grep "$1")"
  assert_no_uploads
  ! listed_names | grep -qxF "$1" || fail "$1 is listed"
}
job_passed() { [ "$(job_bytes)" -ge "$1" ]; }
uploading() { [ -n "$(s3_uploads)" ]; }
# wait_streaming MIN_BYTES: until the running save has passed MIN_BYTES and its multipart
# upload is open.
wait_streaming() {
  wait_for 30 job_passed "$1" || fail "the save did not reach $1 bytes"
  wait_for 30 uploading || fail "the save has no multipart upload open"
}

# --- S3 never holds up the local copy: parts go up at $RATE each, $CONCURRENCY at a time, while
# etcd delivers the whole database in about a second. The local copy is listed ready while the
# upload still runs, the S3 copy arrives afterwards and is the same bytes, and the daemon's
# peak memory stays within 32 MiB whatever the database size. That bound is the pipeline's: the
# contents proof (etcd-snapshot-verify-contents) maps the finished file to hash it, and its
# pages, page cache the kernel may drop, count in VmHWM too (docs/benchmarks.md, issue 16).
# shellcheck disable=SC2046
start_daemon --etcd-disable-snapshots $(s3_proxy_flags s3) --etcd-s3-upload-concurrency "$CONCURRENCY" \
  --etcd-snapshot-verify-contents=false
wait_for 30 sh -c "'$SNAPCTL_BIN' status | grep -q 's3 s3://.* ok$'" || fail "S3 not healthy"
throttle_parts
t0=$(date +%s.%N)
save_bg -o json --no-progress
wait_for 30 running_snapshot || fail "the save did not start: $(cat "$T/save.out")"
name=$(running_snapshot)
wait_for 60 listed_in "$name" local || fail "$name was not listed locally: $(cat "$T/save.out")"
local_took=$(awk -v t="$(date +%s.%N)" -v t0="$t0" 'BEGIN {printf "%.1f", t - t0}')
# It is listed ready while the upload still runs (the save goes on, not yet in S3), before S3
# has taken half of the parts: etcd's stream was not held back by S3.
parts_done() { grep -c "PUT /$S3_BUCKET/$name?partNumber=.* -> 200" "$T/proxy-s3.log" || true; }
early_parts=$(parts_done)
[ "$(running_snapshot)" = "$name" ] || fail "the save of $name ended before its local copy was listed"
! listed_in "$name" s3 || fail "$name is in S3 already: the throttle did not hold the upload"
wait_for 30 uploading || fail "no multipart upload of $name in progress"
save_wait
[ "$SAVE_RC" -eq 0 ] || fail "throttled save failed: $(cat "$T/save.out")"
peak=$(vm "$DAEMON_PID" VmHWM)
first_job=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$T/save.out")
took=$(awk -v t="$(date +%s.%N)" -v t0="$t0" 'BEGIN {printf "%.1f", t - t0}')
size=$(stat -c %s "$SNAPSHOT_DIR/$name")
[ "$size" -gt $((5 * PART)) ] || fail "the database is too small for a throttled upload: $size bytes"
parts=$(parts_done)
[ $((2 * early_parts)) -lt "$parts" ] ||
  fail "the local copy was listed only after S3 had taken $early_parts of $parts parts: S3 held it up"
listed_in "$name" s3 || fail "$name is not listed in S3 after the save"
expect_exit 0 snapctl verify "$name"
cmp -s <(s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$name") "$SNAPSHOT_DIR/$name" ||
  fail "the S3 object differs from the local file"
[ "$peak" -le $((32 * MIB)) ] || fail "daemon peak memory (VmHWM) $((peak / MIB)) MiB during a save of $((size / MIB)) MiB, over 32 MiB"
matrix local-first "part uploads throttled to $((RATE / MIB)) MiB/s x $CONCURRENCY" "$(assert_listed_valid)" \
  "$((size / MIB)) MiB: local ready in $local_took s ($early_parts of $parts parts in S3), S3 in $took s, VmHWM $((peak / MIB)) MiB" "${took%.*}"

# --- Cancel mid-stream: after some parts went up, `snapctl cancel` stops the save; the local
# .part file, the multipart upload and its parts are gone, nothing new is listed.
start=$SECONDS
save_bg -o json --no-progress
wait_streaming $((3 * PART))
uploading=$(s3_uploads | wc -l)
[ "$uploading" -eq 1 ] || fail "expected one multipart upload in progress, found $uploading"
expect_exit 0 snapctl cancel
assert_contains "$OUT" "cancelled save job"
cancelled=$(echo "$OUT" | sed -n 's/.*(\(.*\))$/\1/p')
[ -n "$cancelled" ] || fail "snapctl cancel does not name the snapshot: $OUT"
save_wait
[ "$SAVE_RC" -eq 1 ] || fail "the cancelled save exited $SAVE_RC"
grep -q '"error": "cancelled on request' "$T/save.out" || fail "the job does not say it was cancelled: $(cat "$T/save.out")"
assert_gone "$cancelled"
assert_contains "$(status_field 's["lastFailure"]["error"]')" "cancelled on request"
expect_exit 1 snapctl cancel
assert_contains "$OUT" "no job is running"
expect_exit 1 snapctl cancel "$first_job"
assert_contains "$OUT" "has already succeeded"
expect_exit 2 snapctl cancel x1
matrix cancel "cancel after 3 parts" "$(assert_listed_valid)" "no .part, object or upload left" $((SECONDS - start))

# --- A part damaged on the way: one byte of part 2's body is flipped between the daemon and
# RGW. The server checks the part against its signed SHA-256 and refuses it; the
# daemon sends the part again from its intact copy and the object is whole.
start=$SECONDS
retries=$(metric k3s_snapd_s3_request_retries_total)
faults s3 "[{\"name\":\"corrupt-part\",\"method\":\"PUT\",\"query\":\"partNumber=2\",\"action\":\"corrupt\",\"after_bytes\":1000000,\"nth\":1}]"
expect_exit 0 snapctl save
name=$OUT
[ "$(proxy_stat s3 "sum(r['applied'] for r in s['rules'])")" -eq 1 ] || fail "the part was not corrupted"
grep -q 'partNumber=2.* -> 400 .*(flipped)' "$T/proxy-s3.log" ||
  fail "RGW did not refuse the damaged part: $(grep 'partNumber=2' "$T/proxy-s3.log" | tail -n 3)"
grep -q 'UploadPart.*XAmzContentSHA256Mismatch.*retrying' "$T/daemon.log" ||
  fail "the daemon did not log the refused part and its retry: $(grep -i retry "$T/daemon.log" | tail -n 2)"
[ "$(metric k3s_snapd_s3_request_retries_total)" -gt "$retries" ] || fail "no retry counted"
cmp -s <(s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$name") "$SNAPSHOT_DIR/$name" ||
  fail "the S3 object differs from the local file after a damaged part"
matrix corrupt-part "1 byte of part 2 flipped in transit" "$(assert_listed_valid)" \
  "RGW refused it (400), resent, object = local file" $((SECONDS - start))

# --- SIGTERM mid-upload, as at a shutdown.
start=$SECONDS
throttle_parts
save_bg -o json --no-progress
wait_streaming $((3 * PART))
stopping=$(snapctl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["job"]["snapshot"])')
stop_daemon
save_wait
[ "$SAVE_RC" -ne 0 ] || fail "a save interrupted by SIGTERM reported success"
# Nothing of the S3 copy is left. The local copy was committed when etcd's stream ended, before
# S3 had it: it may stay, then whole and listed, but in the local store only.
assert_no_part_files
! s3_keys | grep -q "$stopping" || fail "$stopping left in S3: $(s3_keys | grep "$stopping")"
assert_no_uploads
# shellcheck disable=SC2046
start_daemon --etcd-disable-snapshots $(s3_proxy_flags s3)
listed=$(assert_listed_valid)
! listed_in "$stopping" s3 || fail "$stopping is listed in S3"
kept=$(listed_in "$stopping" local && echo "local copy kept" || echo "local copy removed")
stop_daemon
matrix sigterm "SIGTERM after 3 parts" "$listed" "no .part, object or upload left; $kept" $((SECONDS - start))

# --- Tee with encoders: zstd then age; both copies are the same bytes, which decrypt and
# decompress to a valid snapshot. fill_etcd's values are all alike, so distinct ones are added
# for a compressed stream of several parts.
start=$SECONDS
faults_off s3
for i in $(seq 1 30); do head -c 750000 /dev/urandom | base64 -w0 | etcdctl_ put "distinct/$i" >/dev/null; done
age-keygen -o "$T/age.key" 2>/dev/null
# shellcheck disable=SC2046
start_daemon --etcd-disable-snapshots $(s3_proxy_flags s3) --etcd-s3-upload-concurrency "$CONCURRENCY" \
  --etcd-snapshot-compression zstd --etcd-snapshot-encryption-recipients "$(age-keygen -y "$T/age.key")" \
  --etcd-snapshot-encryption-identity-file "$T/age.key"
wait_for 30 sh -c "'$SNAPCTL_BIN' status | grep -q 's3 s3://.* ok$'" || fail "S3 not healthy"
expect_exit 0 snapctl save
name=$OUT
[[ $name == *.zst.age ]] || fail "expected a .zst.age snapshot, got $name"
[ "$(stat -c %s "$SNAPSHOT_DIR/$name")" -gt $((2 * PART)) ] || fail "$name is too small for a multipart upload"
s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$name" -o "$T/encoded.s3" || fail "cannot fetch $name"
cmp -s "$T/encoded.s3" "$SNAPSHOT_DIR/$name" || fail "the S3 object of $name differs from the local file"
age -d -i "$T/age.key" "$T/encoded.s3" | zstd -dq >"$T/decoded.db" || fail "cannot decode $name"
etcdctl snapshot status "$T/decoded.db" >/dev/null 2>&1 || fail "$name does not decode to a valid snapshot"
expect_exit 0 snapctl verify "$name"
stop_daemon
matrix tee-encoded "zstd + age, multipart" 2 "S3 object = local file, decodes to a valid snapshot" \
  $((SECONDS - start))
log "ok"
