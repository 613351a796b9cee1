#!/usr/bin/env bash
# Nothing left behind after a crash: 5 SIGKILLs at random moments (seeded; CRASH_SEED=N to
# repeat a run) of ~300 MB saves to local + S3, each followed by a restart. 15 s after each
# restart no .part is left and no S3 object lacks its record; every listed snapshot verifies;
# 15 s after the last restart no multipart upload is open, nor after the next good save.
source "$(dirname "$0")/lib.sh"

SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
log "seed $SEED (CRASH_SEED=$SEED repeats these kill moments)"

start_s3
start_etcd
fill_etcd 260
db=$(etcd_db_size)
[ "$db" -ge $((280 * 1000 * 1000)) ] || fail "etcd holds only $db bytes, want about 300 MB"
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
# shellcheck disable=SC2046
s3_daemon() { start_daemon --etcd-disable-snapshots $(s3_flags) --etcd-s3-timeout 30s; }
# stored_at NAME STORE: when the log says NAME was stored in STORE (file or s3), in seconds.
stored_at() {
  grep "snapshot $1 stored at $2:" "$T/daemon.log" | python3 -c '
import datetime, sys
print(datetime.datetime.fromisoformat(sys.stdin.readline().split()[0]).timestamp())'
}

# A good save first: a snapshot that must come through every crash intact, and how long its S3
# copy took to finish after the local copy was committed.
s3_daemon
expect_exit 0 snapctl save --no-progress
baseline=$OUT
tail_time=$(awk -v a="$(stored_at "$baseline" file)" -v b="$(stored_at "$baseline" s3)" 'BEGIN {printf "%.2f", b - a}')
log "etcd database $((db / 1000000)) MB; the S3 copy took $tail_time s more than the local one"
# The kill moments: two while etcd streams (after a random fraction of its bytes, one in each
# half), three after the local copy is committed while the S3 copy is finished (at a random
# point of each third of the time that took in the first save).
read -ra MOMENTS < <(python3 -c '
import random, sys
r, tail = random.Random(int(sys.argv[1])), float(sys.argv[2])
print(" ".join(["bytes:%.3f" % ((k + r.random()) / 2) for k in range(2)] +
               ["tail:%.2f" % (tail * (k + r.random()) / 3) for k in range(3)]))' "$SEED" "$tail_time")

# save_until MOMENT: starts a save and follows its job closely until MOMENT: "bytes:F", F of
# etcd's stream read; "tail:S", S seconds after the local copy is committed (listed in the
# job's records). Prints "SNAPSHOT|STATE, BYTES of TOTAL bytes read" then. One process does it
# all: starting one while etcd streams 300 MB to disk can take a second.
save_until() {
  python3 - "$K3S_SNAPD_SOCKET" "$1" <<'PY'
import http.client, json, socket, sys, time
class UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
def call(method, path):
    c = UnixConnection("localhost", timeout=10)
    c.request(method, path, "{}" if method == "POST" else None)
    answer = json.loads(c.getresponse().read())
    c.close()
    return answer
kind, value = sys.argv[2].split(":")
job_path = "/v1/jobs/%d" % call("POST", "/v1/snapshots")["job"]["id"]
deadline = time.time() + 120
while True:
    j = call("GET", job_path)
    if j["state"] != "running":
        break
    if kind == "bytes" and j["total"] and j["bytes"] >= float(value) * j["total"]:
        break
    if kind == "tail" and j["records"]:
        time.sleep(float(value))  # a time into the S3 copy's tail, not a state to wait for
        j = call("GET", job_path)
        break
    if time.time() > deadline:
        sys.exit("the save never reached " + sys.argv[2])
    time.sleep(0.005)
print("%s|%s, %d of %d bytes read" % (j["snapshot"] or "-", j["state"], j["bytes"], j["total"]))
PY
}

echo "$baseline" >"$T/verified" # verified with all the others at the end
# verify_listed: every listed snapshot not verified before verifies (stored snapshots never
# change), each copy read back by `snapctl verify`.
verify_listed() {
  local name
  for name in $(listed_names | sort -u); do
    grep -qxF "$name" "$T/verified" && continue
    expect_exit 0 snapctl verify "$name"
    echo "$name" >>"$T/verified"
  done
}

k=0
for moment in "${MOMENTS[@]}"; do
  k=$((k + 1))
  start=$SECONDS
  state=$(save_until "$moment") || fail "kill $k: the save did not reach $moment"
  kill_daemon
  name=${state%%|*}
  state=${state#*|}
  where=$(grep -o "snapshot $name stored at [a-z0-9]*" "$T/daemon.log" | sed 's/.* stored at //' | tr '\n' ' ' || true)
  log "kill $k at $moment of the save of $name ($state; stored in: ${where:-nothing})"
  s3_daemon
  wait_for 15 no_part_files || fail "kill $k: .part left 15 s after the restart: $(ls -a "$SNAPSHOT_DIR")"
  wait_for 15 no_object_without_record ||
    fail "kill $k: S3 objects without their record 15 s after the restart: $(s3_objects_without_record)"
  verify_listed
  matrix "kill-$k" "SIGKILL at $moment" "$(listed_names | wc -l)" \
    "$state; stored in ${where:-nothing}; uploads open: $(s3_uploads | wc -l)" $((SECONDS - start))
  # The killed save's snapshot, once checked, makes room (RGW holds objects in memory).
  if listed_names | grep -qxF "$name"; then expect_exit 0 snapctl delete "$name"; fi
done

start=$SECONDS
wait_for 15 no_uploads || fail "incomplete multipart uploads 15 s after the last restart: $(s3_uploads)"
expect_exit 0 snapctl save --no-progress
assert_no_uploads
assert_no_part_files
no_object_without_record || fail "S3 objects without their record after a good save: $(s3_objects_without_record)"
expect_exit 0 snapctl verify --all
checked=$(grep -c '^OK' <<<"$OUT" || true)
[ "$checked" -eq "$(listed_names | wc -l)" ] || fail "not every listed copy verified: $OUT"
matrix aftermath "$k SIGKILLs before (seed $SEED)" "$checked" \
  "no .part, upload or object without record; all listed verify" $((SECONDS - start))
stop_daemon
log "ok"
