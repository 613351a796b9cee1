#!/usr/bin/env bash
# Restorable by construction: 1,000 known keys are saved plain, as k3s's zip, as zstd and
# age-encrypted, each to local disk and to S3 (Ceph RGW); the keys are deleted; every copy is
# restored in etcd mode and a real etcd started on the restored dir must hold every key and
# value. A flipped byte in a local file and in an S3 object fails verify and restore.
source "$(dirname "$0")/lib.sh"

start_s3
start_etcd
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"

# 1,000 keys with values that cannot be guessed, written in transactions of 125.
python3 - "$T/expected.json" <<'PY'
import json, os, sys
expected = {f"k/{i:04d}": f"value-{i}-{os.urandom(8).hex()}" for i in range(1000)}
json.dump(expected, open(sys.argv[1], "w"))
items = list(expected.items())
for b in range(0, len(items), 125):
    with open(f"{sys.argv[1]}.txn{b // 125}", "w") as f:
        f.write("\n")
        for k, v in items[b:b + 125]:
            f.write(f'put {k} "{v}"\n')
        f.write("\n\n")
PY
for txn in "$T"/expected.json.txn*; do etcdctl_ txn <"$txn" >/dev/null || fail "txn $txn failed"; done
[ "$(etcdctl_ get k/ --prefix -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')" = 1000 ] ||
  fail "etcd does not hold the 1,000 keys"

age-keygen -o "$T/age.key" 2>/dev/null
chmod 600 "$T/age.key"
recipient=$(age-keygen -y "$T/age.key")
mkdir -p "$T/data/server"
printf 'K10feedface::server:restore-e2e-password\n' >"$T/data/server/token"

# One daemon per encoding, each saving to local and S3.
declare -A saved
for format in plain zip zstd age; do
  flags=()
  case $format in
    zip) flags=(--etcd-snapshot-compress) ;;
    zstd) flags=(--etcd-snapshot-compression zstd) ;;
    age) flags=(--etcd-snapshot-encryption-recipients "$recipient") ;;
  esac
  # shellcheck disable=SC2046
  start_daemon $(s3_flags) --etcd-snapshot-encryption-identity-file "$T/age.key" "${flags[@]}"
  expect_exit 0 snapctl save --name "fmt-$format"
  saved[$format]=$OUT
  stop_daemon
  log "saved ${saved[$format]}"
done
[[ ${saved[zip]} == *.zip && ${saved[zstd]} == *.zst && ${saved[age]} == *.age ]] ||
  fail "suffixes do not say the encoding: ${saved[*]}"
# The age snapshot carries the server token, encrypted; the plain ones never do.
[ -f "$T/data/server/db/.metadata/${saved[age]}.token.age" ] || fail "no token backup beside ${saved[age]}"
[ "$(age -d -i "$T/age.key" "$T/data/server/db/.metadata/${saved[age]}.token.age")" = \
  "K10feedface::server:restore-e2e-password" ] || fail "the saved token does not decrypt to the token"
[ "$(find "$T/data/server/db/.metadata" -name '*.token.age' | wc -l)" -eq 1 ] ||
  fail "a token was saved beside an unencrypted snapshot"
s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/.metadata/${saved[age]}.token.age" -o "$T/s3-token.age" ||
  fail "no token backup in S3"
grep -q restore-e2e-password "$T/s3-token.age" && fail "the token is stored in clear in S3"

# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-snapshot-encryption-identity-file "$T/age.key"
expect_exit 0 snapctl verify --all
[ "$(grep -c '^OK' <<<"$OUT")" -eq 8 ] || fail "verify --all did not pass 8 copies: $OUT"

etcdctl_ del k/ --prefix >/dev/null
expect_exit 1 snapctl restore "${saved[plain]}" --yes --etcd-data-dir "$T/never" --etcd-name r \
  --initial-cluster r=http://127.0.0.1:1 --initial-advertise-peer-urls http://127.0.0.1:1
assert_contains "$OUT" "etcd still answers"
[ ! -e "$T/never" ] || fail "a refused restore wrote $T/never"
expect_exit 2 snapctl restore "${saved[plain]}" --etcd-data-dir "$T/never" --etcd-name r \
  --initial-cluster r=http://127.0.0.1:1 --initial-advertise-peer-urls http://127.0.0.1:1 </dev/null
assert_contains "$OUT" "--yes"
stop_etcd

# restore_and_check NAME STORAGE DIR: restores NAME from STORAGE into DIR in etcd mode, starts
# etcd there and compares every key and value with what was written.
restore_and_check() {
  local name=$1 storage=$2 dir=$3 peer client
  peer=$(free_port)
  client=$(free_port)
  expect_exit 0 snapctl restore "$name" --storage "$storage" --yes --no-progress --etcd-data-dir "$dir" \
    --etcd-name restored --initial-cluster "restored=http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer"
  assert_contains "$OUT" "Next steps"
  ETCD_URL="http://127.0.0.1:$client"
  etcd --name restored --data-dir "$dir" --listen-client-urls "$ETCD_URL" \
    --advertise-client-urls "$ETCD_URL" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "restored=http://127.0.0.1:$peer" >"$T/etcd-restored.log" 2>&1 &
  ETCD_PID=$!
  PIDS+=("$ETCD_PID")
  wait_for 30 etcdctl_ endpoint health || fail "etcd does not start on the restore of $name"
  etcdctl_ get k/ --prefix -w json >"$T/got.json"
  python3 - "$T/expected.json" "$T/got.json" <<'PY' || fail "restore of $name from $storage lost keys"
import base64, json, sys
expected = json.load(open(sys.argv[1]))
got = {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
       for kv in json.load(open(sys.argv[2])).get("kvs", [])}
assert got == expected, f"{len(got)} keys, {sum(got.get(k) == v for k, v in expected.items())} match"
PY
  stop_etcd
  log "restored $name from $storage: 1000 keys match"
}

# The first restore goes over the old data dir, which must be moved aside, not deleted.
restore_and_check "${saved[plain]}" local "$T/etcd"
old=$(find "$T" -maxdepth 1 -name 'etcd-old-*' | head -1)
[ -n "$old" ] && [ -d "$old/member" ] || fail "the old etcd data dir was not kept: $(ls "$T")"
for format in plain zip zstd age; do
  for storage in local s3; do
    [ "$format/$storage" = plain/local ] && continue
    restore_and_check "${saved[$format]}" "$storage" "$T/restored-$format-$storage"
  done
done
[ -z "$(ls -A "$T/data/server/db/.restore")" ] || fail "staged files were left behind"

# One flipped byte in the middle of a local file and of an S3 object.
flip_byte() {
  python3 - "$1" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(0, 2)
    middle = f.tell() // 2
    f.seek(middle)
    byte = f.read(1)
    f.seek(middle)
    f.write(bytes([byte[0] ^ 0x01]))
PY
}
flip_byte "$SNAPSHOT_DIR/${saved[zstd]}"
expect_exit 1 snapctl verify "${saved[zstd]}"
assert_contains "$OUT" "FAILED  local  ${saved[zstd]}"
assert_contains "$OUT" "OK      s3  ${saved[zstd]}"
expect_exit 1 snapctl restore "${saved[zstd]}" --storage local --yes --etcd-data-dir "$T/bad-local" \
  --etcd-name r --initial-cluster r=http://127.0.0.1:1 --initial-advertise-peer-urls http://127.0.0.1:1
assert_contains "$OUT" "Nothing was changed"
[ ! -e "$T/bad-local" ] || fail "a corrupt snapshot was restored"

s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/${saved[plain]}" -o "$T/object" || fail "cannot fetch the S3 object"
flip_byte "$T/object"
s3_curl -X PUT --data-binary "@$T/object" "http://$S3_ENDPOINT/$S3_BUCKET/${saved[plain]}" -o /dev/null ||
  fail "cannot replace the S3 object"
expect_exit 1 snapctl verify "${saved[plain]}"
assert_contains "$OUT" "FAILED  s3  ${saved[plain]}"
assert_contains "$OUT" "OK      local  ${saved[plain]}"
expect_exit 1 snapctl restore "${saved[plain]}" --storage s3 --yes --etcd-data-dir "$T/bad-s3" \
  --etcd-name r --initial-cluster r=http://127.0.0.1:1 --initial-advertise-peer-urls http://127.0.0.1:1
assert_contains "$OUT" "Nothing was changed"
[ ! -e "$T/bad-s3" ] || fail "a corrupt S3 object was restored"
expect_exit 1 snapctl verify --all
[ "$(grep -c '^FAILED' <<<"$OUT")" -eq 2 ] || fail "verify --all should fail exactly 2 copies: $OUT"
log "ok"
