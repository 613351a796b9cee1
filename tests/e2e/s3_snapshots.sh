#!/usr/bin/env bash
# Snapshots to a real S3 (Ceph RGW, which checks every signature) beside the local copy, laid
# out as k3s lays them out; listed, pruned and deleted in both; readable by other S3 clients;
# a failed upload keeps the local copy and says so; a bad bucket shows in status.
source "$(dirname "$0")/lib.sh"

start_s3
start_etcd
for i in $(seq 1 200); do etcdctl_ put "key/$i" "value-$i" >/dev/null; done
mkdir -p "$T/data/server"
printf 'K10deadbeef::server:e2e-token-password-77\n' >"$T/data/server/token"
want_hash=$(printf %s e2e-token-password-77 | sha256sum | cut -c1-12)
folder="backups/ünïcode folder"

export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-s3-folder "$folder" --etcd-s3-retention 1 \
  --etcd-snapshot-retention 3 --etcd-snapshot-schedule-cron '@every 5s'
wait_for 30 sh -c "'$SNAPCTL_BIN' status | grep -q 's3 s3://.* ok$'" ||
  fail "S3 not healthy: $(snapctl status)"

expect_ok_when_idle snapctl save
name=$OUT
file="$SNAPSHOT_DIR/$name"
python3 - "$(snapctl ls -o json)" "$name" "$(sha256sum "$file" | cut -d' ' -f1)" "$want_hash" "$folder" <<'PY' ||
import json, sys
records, name, sha, token_hash, folder = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
mine = {r["storage"]: r for r in records if r["name"] == name}
assert set(mine) == {"local", "s3"}, mine
for r in mine.values():
    assert r["status"] == "ready" and r["sha256"] == sha and r["tokenHash"] == token_hash, r
assert mine["s3"]["location"] == f"s3://snapshots/{folder}/{name}", mine["s3"]["location"]
assert mine["s3"]["size"] == mine["local"]["size"]
PY
  fail "ls does not show the snapshot in both stores with its record"

# k3s's layout and metadata, read back with curl's own SigV4 (not our code).
enc_folder=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$folder")
s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$enc_folder/$name" -o "$T/fetched" || fail "GET of the object failed"
cmp -s "$T/fetched" "$file" || fail "object differs from the local snapshot"
etcdctl snapshot status "$T/fetched" >/dev/null || fail "object is not a valid etcd snapshot"
headers=$(s3_curl -I "http://$S3_ENDPOINT/$S3_BUCKET/$enc_folder/$name")
assert_contains "$headers" "x-amz-meta-k3s-node-name: e2e-node"
assert_contains "$headers" "x-amz-meta-k3s-token-hash: $want_hash"
metadata=$(s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/$enc_folder/.metadata/$name") || fail "no .metadata object"
assert_contains "$metadata" "\"sha256\""

# Other clients see and read it too.
if command -v rclone >/dev/null; then
  listing=$(env -u AWS_CA_BUNDLE RCLONE_CONFIG=/dev/null RCLONE_CONFIG_X_TYPE=s3 RCLONE_CONFIG_X_PROVIDER=Ceph \
    RCLONE_CONFIG_X_ENDPOINT="http://$S3_ENDPOINT" RCLONE_CONFIG_X_ACCESS_KEY_ID="$S3_ACCESS_KEY" \
    RCLONE_CONFIG_X_SECRET_ACCESS_KEY="$S3_SECRET_KEY" RCLONE_CONFIG_X_REGION="$S3_REGION" \
    rclone lsf "x:$S3_BUCKET/$folder/") || fail "rclone cannot list the folder"
  assert_contains "$listing" "$name"
fi

# Scheduled snapshots: S3 keeps etcd-s3-retention (1), local keeps etcd-snapshot-retention (3).
# Counted while no job runs: a save between its upload and its retention lists one more. (Every
# 5 s leaves room for a listing of S3, which takes seconds on a busy machine.)
wait_for 60 log_has 4 'saving snapshot etcd-snapshot-' || fail "scheduled snapshots did not run"
while_idle take_listing
counts=$(python3 -c '
import json, sys
c = {}
for r in json.loads(sys.argv[1])["snapshots"]:
    if r["name"].startswith("etcd-snapshot-"):
        c[r["storage"]] = c.get(r["storage"], 0) + 1
print(c.get("local", 0), c.get("s3", 0))' "$LISTING")
[ "$counts" = "3 1" ] || fail "scheduled snapshots kept (local s3): $counts, want 3 1"
snapctl ls -o json | python3 -c '
import json, sys
assert any(r["name"].startswith("on-demand-") and r["storage"] == "s3" for r in json.load(sys.stdin))' ||
  fail "schedule pruned the on-demand snapshot from S3"

# Delete acts on both stores.
expect_ok_when_idle snapctl delete "$name"
assert_contains "$OUT" "local, s3"
s3_curl -I "http://$S3_ENDPOINT/$S3_BUCKET/$enc_folder/$name" >/dev/null 2>&1 && fail "object still in S3"
listed_names | grep -qx "$name" && fail "$name still listed"
stop_daemon

# A missing bucket is a clear error in status, not a crash; the local copy is still made.
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-s3-bucket no-such-bucket --etcd-disable-snapshots --etcd-s3-timeout 10s
wait_for 20 sh -c "'$SNAPCTL_BIN' status | grep -q NoSuchBucket" || fail "status does not name NoSuchBucket: $(snapctl status)"
expect_exit 1 snapctl save
assert_contains "$OUT" "kept in local but not stored in s3"
kept=$(ls "$SNAPSHOT_DIR" | grep -c '^on-demand-' || true)
[ "$kept" -ge 1 ] || fail "local copy of a failed upload was not kept"
stop_daemon

# A wrong secret is named as such, quickly (not retried), and never printed.
export AWS_SECRET_ACCESS_KEY="wrong-secret-value-123456"
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-disable-snapshots
wait_for 20 sh -c "'$SNAPCTL_BIN' status | grep -q SignatureDoesNotMatch" ||
  fail "status does not name SignatureDoesNotMatch: $(snapctl status)"
out="$(snapctl status -o json) $(snapctl ls 2>&1 || true) $(cat "$T/daemon.log")"
[[ $out == *"wrong-secret-value-123456"* ]] && fail "the secret key was printed"
[[ $out == *"e2e-token-password-77"* ]] && fail "the k3s token was printed"
stop_daemon

# SIGTERM mid-upload: the daemon stops in time and leaves no incomplete multipart upload.
export AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
fill_etcd 60
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-disable-snapshots
mark=$(jobs_mark)
snapctl save >"$T/term.out" 2>&1 &
term=$!
wait_for 30 job_streamed $((${mark#* } + 1)) 20000000 || fail "save did not get far enough to be uploading parts"
stop_daemon
wait $term && fail "save reported success although the daemon was stopped"
uploads=$(s3_curl "http://$S3_ENDPOINT/$S3_BUCKET?uploads=")
[[ $uploads == *"<Upload>"* ]] && fail "incomplete multipart upload left after SIGTERM: $uploads"
assert_no_part_files

# S3 gone mid-life: the save keeps its local copy and reports the failed upload.
export AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-disable-snapshots --etcd-s3-timeout 5s
before=$(ls "$SNAPSHOT_DIR" | wc -l)
stop_s3
expect_exit 1 snapctl save
assert_contains "$OUT" "kept in local but not stored in s3"
after=$(ls "$SNAPSHOT_DIR" | wc -l)
[ "$after" -eq $((before + 1)) ] || fail "local copy not kept when S3 is down"
assert_no_part_files
log "ok"
