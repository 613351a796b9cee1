#!/usr/bin/env bash
# The save pipeline against etcd and Ceph RGW with part uploads throttled by the fault proxy:
# back-pressure (etcd is read no faster than S3 takes the parts, memory stays at the part
# buffers), the local file and the S3 object are the same bytes (plain and zstd+age), and a
# save cancelled mid-stream, by `snapctl cancel` or by SIGTERM, leaves nothing in either store.
source "$(dirname "$0")/lib.sh"

MIB=$((1024 * 1024))
PART=$((8 * MIB))  # the daemon's part size below 9000 parts
CONCURRENCY=2
RATE=$((2 * MIB)) # bytes per second of each part upload

start_s3
start_etcd
fill_etcd 40
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
saved_name() { python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"])' <"$T/save.out"; }
# assert_gone NAME: no trace of NAME in either store, and no upload left in RGW.
assert_gone() {
  assert_no_part_files
  [ ! -e "$SNAPSHOT_DIR/$1" ] || fail "$1 is in the snapshot dir"
  ! s3_keys | grep -q "$1" || fail "$1 left in S3: $(s3_keys | grep "$1")"
  assert_no_uploads
  ! listed_names | grep -qxF "$1" || fail "$1 is listed"
}
job_passed() { [ "$(job_bytes)" -ge "$1" ]; }
# wait_streaming MIN_BYTES: until the running save has passed MIN_BYTES.
wait_streaming() {
  wait_for 30 job_passed "$1" || fail "the save did not reach $1 bytes"
}

# --- Back-pressure: parts go up at $RATE each, $CONCURRENCY at a time. etcd could deliver the
# whole database in about a second; the daemon must read it only as fast as parts leave, so
# at any time it has read at most what S3 took plus the part buffers, and its memory does not
# grow with the database.
# shellcheck disable=SC2046
start_daemon --etcd-disable-snapshots $(s3_proxy_flags s3) --etcd-s3-upload-concurrency "$CONCURRENCY"
wait_for 30 sh -c "'$SNAPCTL_BIN' status | grep -q 's3 s3://.* ok$'" || fail "S3 not healthy"
throttle_parts
base_rss=$(vm "$DAEMON_PID" VmRSS)
t0=$(date +%s.%N)
save_bg -o json --no-progress
samples=0
while kill -0 "$SAVE_PID" 2>/dev/null; do
  bytes=$(job_bytes)
  now=$(date +%s.%N)
  if [ "$bytes" -lt 0 ]; then # not started yet, or done
    [ "$samples" -eq 0 ] && { sleep 0.1; continue; }
    break
  fi
  # What S3 can have taken by now, plus one buffer per worker, the one filling and one in the
  # local file's buffer and the stages.
  bound=$(awk -v t="$now" -v t0="$t0" -v r="$RATE" -v c="$CONCURRENCY" -v p="$PART" \
    'BEGIN {printf "%d", c * r * (t - t0) + (c + 2) * p}')
  [ "$bytes" -le "$bound" ] || fail "read $bytes bytes from etcd after $(awk -v t="$now" -v t0="$t0" 'BEGIN {print t - t0}') s, more than S3 can have taken plus the buffers ($bound)"
  samples=$((samples + 1))
  sleep 0.3
done
save_wait
[ "$SAVE_RC" -eq 0 ] || fail "throttled save failed: $(cat "$T/save.out")"
name=$(saved_name)
first_job=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$T/save.out")
took=$(awk -v t="$(date +%s.%N)" -v t0="$t0" 'BEGIN {printf "%.1f", t - t0}')
size=$(stat -c %s "$SNAPSHOT_DIR/$name")
[ "$size" -gt $((5 * PART)) ] || fail "the database is too small to test back-pressure: $size bytes"
[ "$samples" -ge 5 ] || fail "only $samples progress samples in a throttled save of $took s"
peak=$(vm "$DAEMON_PID" VmHWM)
grown=$(((peak - base_rss) / MIB))
# Part buffers are (concurrency + 1) x 8 MiB = 24 MiB; without back-pressure the daemon would
# hold most of the $((size / MIB)) MiB snapshot.
[ "$grown" -le 36 ] || fail "daemon memory grew by $grown MiB during a save of $((size / MIB)) MiB"
[ "$(assert_listed_valid)" -eq 2 ] || fail "the save is not listed in both stores"
cmp -s <(s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$name") "$SNAPSHOT_DIR/$name" ||
  fail "the S3 object differs from the local file"
matrix back-pressure "part uploads throttled to $((RATE / MIB)) MiB/s x $CONCURRENCY" 2 \
  "$((size / MIB)) MiB in $took s, $samples samples within bound, memory +$grown MiB" "${took%.*}"

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
# daemon sends the part again from its intact buffer and the object is whole.
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

# --- SIGTERM mid-stream: the same, as at a shutdown.
start=$SECONDS
throttle_parts
save_bg -o json --no-progress
wait_streaming $((3 * PART))
stopping=$(snapctl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["job"]["snapshot"])')
stop_daemon
save_wait
[ "$SAVE_RC" -ne 0 ] || fail "a save interrupted by SIGTERM reported success"
assert_gone "$stopping"
matrix sigterm "SIGTERM after 3 parts" 2 "no .part, object or upload left" $((SECONDS - start))

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
