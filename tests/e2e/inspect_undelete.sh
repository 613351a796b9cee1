#!/usr/bin/env bash
# Looking inside snapshots against a real etcd and S3 (Ceph RGW): inspect's revision, keys and
# HashKV agree with etcd's own answers; get returns a value byte for byte with its Kubernetes
# type; diff names what changed; undelete brings a deleted key back byte-identical, skips it the
# second time and never overwrites a key that exists; the save proves each snapshot's HashKV
# against etcd's; all of it on local, S3-only, zip, zstd and age copies.
source "$(dirname "$0")/lib.sh"

start_s3
start_etcd

# put_file KEY FILE: puts FILE's bytes (NULs too) as KEY's value through the gateway.
put_file() {
  python3 -c 'import base64,json,sys; print(json.dumps({"key": base64.b64encode(sys.argv[1].encode()).decode(), "value": base64.b64encode(open(sys.argv[2],"rb").read()).decode()}))' "$1" "$2" >"$T/put.json"
  curl -sf -X POST "$ETCD_URL/v3/kv/put" -d @"$T/put.json" >/dev/null || fail "cannot put $1"
}
# get_file KEY FILE: KEY's current value into FILE; fails when KEY is absent.
get_file() {
  curl -sf -X POST "$ETCD_URL/v3/kv/range" \
    -d "{\"key\": \"$(printf %s "$1" | base64 -w0)\"}" | python3 -c '
import base64, json, sys
kvs = json.load(sys.stdin).get("kvs", [])
if not kvs: sys.exit(1)
open(sys.argv[1], "wb").write(base64.b64decode(kvs[0].get("value", "")))' "$2"
}
revision() { etcdctl_ endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'; }

# A small Kubernetes key space: a Secret as the apiserver stores it (protobuf in the k8s
# envelope: runtime.Unknown{typeMeta{apiVersion, kind}, raw}), a custom resource stored as
# JSON, ConfigMaps, and a key bound to a lease.
secret_key=/registry/secrets/default/db-password
printf 'k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x07s3cr\x00t!' >"$T/secret.bin"
put_file "$secret_key" "$T/secret.bin"
cr_key=/registry/example.com/widgets/default/w1
printf '{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":3}}' >"$T/cr.json"
put_file "$cr_key" "$T/cr.json"
for i in $(seq 1 20); do etcdctl_ put "/registry/configmaps/kube-system/cm-$i" "data-$i" >/dev/null; done
etcdctl_ put /registry/configmaps/kube-system/cm-1 "data-1-v2" >/dev/null
etcdctl_ del /registry/configmaps/kube-system/cm-20 >/dev/null
lease=$(etcdctl_ lease grant 600 | awk '{print $2}')
etcdctl_ put --lease="$lease" /registry/leases/kube-node-lease/node-1 holder >/dev/null
# A value large enough for bbolt's overflow pages.
head -c 200000 /dev/urandom >"$T/big.bin"
put_file /registry/configmaps/default/big "$T/big.bin"

export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-transport grpc
want_rev=$(revision)
expect_ok_when_idle snapctl save
first=$OUT

# The save proved the snapshot's contents against etcd.
python3 - "$(snapctl ls -o json)" "$first" "$want_rev" <<'PY' || fail "the save did not verify its contents: $(snapctl ls -o json)"
import json, sys
records, name, rev = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
mine = [r for r in records if r["name"] == name]
assert len(mine) == 2, mine
for r in mine:
    assert r["contentVerified"] is True, r
    assert r["hashKV"]["revision"] == rev, r
PY
log_has 1 "snapshot contents verified: HashKV" || fail "no proof in the log"

# inspect agrees with etcd: revision, live keys, HashKV at that revision.
expect_exit 0 snapctl inspect "$first" -o json
inspect_local=$OUT
etcd_hash=$(etcdctl_ endpoint hashkv --rev "$want_rev" -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])')
live_keys=$(etcdctl_ get "" --prefix --keys-only | grep -c .)
python3 - "$inspect_local" "$want_rev" "$etcd_hash" "$live_keys" "$(stat -c %s "$T/secret.bin")" <<'PY' || fail "inspect disagrees with etcd: $inspect_local"
import json, sys
r, rev, etcd_hash, keys, secret_bytes = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
assert r["revision"] == rev, (r["revision"], rev)
assert r["keys"] == keys, (r["keys"], keys)
assert r["hashKV"]["hash"] == etcd_hash and r["hashKV"]["revision"] == rev, r["hashKV"]
assert r["storedRevisions"] >= keys + 2
prefixes = {p["prefix"]: p for p in r["prefixes"]}
assert prefixes["/registry/secrets/"] == {"prefix": "/registry/secrets/", "keys": 1, "bytes": secret_bytes}, prefixes
assert prefixes["/registry/configmaps/"]["keys"] == 20, prefixes
assert prefixes["/registry/example.com/widgets/"]["keys"] == 1, prefixes
assert r["snapshot"]["readInPlace"] is True, r["snapshot"]
PY
expect_exit 0 snapctl inspect "$first" --namespaces
assert_contains "$OUT" "/registry/configmaps/kube-system/"
assert_contains "$OUT" "hashKV:            $etcd_hash at revision $want_rev"

# get: the value byte for byte, and what it is.
snapctl get "$first" "$secret_key" -o raw >"$T/got.bin" || fail "get -o raw failed"
cmp -s "$T/got.bin" "$T/secret.bin" || fail "get -o raw changed the value"
snapctl get "$first" /registry/ --prefix >"$T/get.json" || fail "get --prefix failed"
python3 - "$T/get.json" "$secret_key" "$cr_key" <<'PY' || fail "get -o json is wrong: see $T/get.json"
import json, sys
kvs = {kv["key"]: kv for kv in json.load(open(sys.argv[1]))}
s = kvs[sys.argv[2]]
assert (s["apiVersion"], s["kind"], s["encoding"]) == ("v1", "Secret", "protobuf"), s
cr = kvs[sys.argv[3]]
assert cr["kind"] == "Widget" and cr["object"]["spec"]["size"] == 3, cr
assert kvs["/registry/leases/kube-node-lease/node-1"]["lease"] != 0
assert "/registry/configmaps/kube-system/cm-20" not in kvs
assert all(kv["createRevision"] <= kv["modRevision"] for kv in kvs.values())
PY
expect_exit 1 snapctl get "$first" /registry/secrets/default/nope
assert_contains "$OUT" "no key \"/registry/secrets/default/nope\" in $first"
expect_exit 1 snapctl get "$first" /registry/ --prefix -o raw
assert_contains "$OUT" "-o raw writes one value"

# Someone deletes the Secret and changes a ConfigMap; a second snapshot; diff names it.
etcdctl_ del "$secret_key" >/dev/null
etcdctl_ put /registry/configmaps/kube-system/cm-2 "changed" >/dev/null
etcdctl_ put /registry/configmaps/kube-system/cm-new "new" >/dev/null
expect_ok_when_idle snapctl save
second=$OUT
expect_exit 0 snapctl diff "$first" "$second" -o json
python3 - "$OUT" "$secret_key" <<'PY' || fail "diff is wrong: $OUT"
import json, sys
d, secret = json.loads(sys.argv[1]), sys.argv[2]
changes = {c["key"]: c["change"] for c in d["changes"]}
assert changes == {secret: "removed", "/registry/configmaps/kube-system/cm-2": "changed",
                   "/registry/configmaps/kube-system/cm-new": "added"}, changes
assert (d["added"], d["removed"], d["changed"]) == (1, 1, 1), d
per = {p["prefix"]: p for p in d["prefixes"]}
assert per["/registry/secrets/"]["removed"] == 1 and per["/registry/configmaps/"]["changed"] == 1
PY
expect_exit 0 snapctl diff "$first" "$second" --prefix /registry/secrets/
assert_contains "$OUT" "- $secret_key"

# undelete: back byte-identical; a second time skipped; an existing key never overwritten;
# a leased key skipped with the reason.
expect_exit 2 snapctl undelete "$first" "$secret_key" </dev/null
assert_contains "$OUT" "confirm with --yes"
expect_exit 0 snapctl undelete "$first" "$secret_key" --yes
assert_contains "$OUT" "recreated $secret_key"
get_file "$secret_key" "$T/back.bin" || fail "the Secret did not come back"
cmp -s "$T/back.bin" "$T/secret.bin" || fail "the Secret came back changed"
expect_exit 0 snapctl undelete "$first" "$secret_key" --yes
assert_contains "$OUT" "skipped   $secret_key: exists"
expect_exit 0 snapctl undelete "$first" /registry/configmaps/kube-system/ --prefix --yes -o json
python3 - "$OUT" <<'PY' || fail "undelete of existing keys: $OUT"
import json, sys
r = json.loads(sys.argv[1])
assert r["recreated"] == [], r
assert len(r["skipped"]) == 19 and all(s["reason"].startswith("exists") for s in r["skipped"]), r
PY
[ "$(etcdctl_ get /registry/configmaps/kube-system/cm-2 --print-value-only)" = changed ] ||
  fail "undelete overwrote a key that exists"
etcdctl_ lease revoke "$lease" >/dev/null
expect_exit 0 snapctl undelete "$first" /registry/leases/ --prefix --yes
assert_contains "$OUT" "bound to lease"
[ -z "$(etcdctl_ get /registry/leases/ --prefix --keys-only)" ] || fail "a leased key came back"
log_has 1 "undelete: recreated \"/registry/secrets/default/db-password\" from $first" ||
  fail "the undelete is not in the journal"

# The S3 copy alone answers the same.
rm "$SNAPSHOT_DIR/$first"
expect_exit 0 snapctl inspect "$first" -o json
python3 - "$OUT" "$inspect_local" <<'PY' || fail "inspect of the S3 copy differs: $OUT"
import json, sys
s3, local = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert s3["snapshot"]["storage"] == "s3" and s3["snapshot"]["readInPlace"] is False, s3["snapshot"]
for k in ("revision", "compactRevision", "keys", "bytes", "storedRevisions", "hashKV", "prefixes"):
    assert s3[k] == local[k], k
PY
snapctl get "$first" "$secret_key" -o raw --storage s3 >"$T/got-s3.bin" || fail "get from S3 failed"
cmp -s "$T/got-s3.bin" "$T/secret.bin" || fail "get from S3 changed the value"
[ -z "$(ls -A "$STATE_DIR/inspect" 2>/dev/null)" ] || fail "scratch copies were left: $(ls -A "$STATE_DIR/inspect")"

# zip, zstd and age copies, local and S3: proved at save, inspected and read alike.
age-keygen -o "$T/age.key" 2>/dev/null
recipient=$(age-keygen -y "$T/age.key")
for encoding in zip zstd age; do
  case $encoding in
    zip) flags=(--etcd-snapshot-compress) ;;
    zstd) flags=(--etcd-snapshot-compression zstd) ;;
    age) flags=(--etcd-snapshot-encryption-recipients "$recipient"
                --etcd-snapshot-encryption-identity-file "$T/age.key") ;;
  esac
  stop_daemon
  # shellcheck disable=SC2046
  start_daemon $(s3_flags) --etcd-transport grpc "${flags[@]}"
  rev=$(revision)
  expect_ok_when_idle snapctl save
  name=$OUT
  for storage in local s3; do
    expect_exit 0 snapctl inspect "$name" --storage "$storage" -o json
    python3 - "$OUT" "$rev" "$storage" <<'PY' || fail "$encoding $storage: inspect is wrong: $OUT"
import json, sys
r, rev, storage = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
assert r["revision"] == rev and r["snapshot"]["storage"] == storage, r
assert r["snapshot"]["readInPlace"] is False
assert r["keys"] > 20
PY
    snapctl get "$name" "$secret_key" -o raw --storage "$storage" >"$T/got.bin" || fail "$encoding: get failed"
    cmp -s "$T/got.bin" "$T/secret.bin" || fail "$encoding $storage: get changed the value"
  done
  python3 - "$(snapctl ls -o json)" "$name" <<'PY' || fail "$encoding: the save did not verify its contents"
import json, sys
mine = [r for r in json.loads(sys.argv[1]) if r["name"] == sys.argv[2]]
assert len(mine) == 2 and all(r["contentVerified"] for r in mine), mine
PY
done
[ -z "$(find "$STATE_DIR" -name 'proof-*')" ] || fail "the proof's scratch copy was left"

# A damaged local copy is a clear error, not a crash.
expect_ok_when_idle snapctl save
name=$OUT
python3 - "$SNAPSHOT_DIR/$name" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[0:4096] = b"\xff" * 4096
data[4096:8192] = b"\xff" * 4096
open(path, "wb").write(bytes(data))
PY
expect_exit 1 snapctl inspect "$name" --storage local
assert_contains "$OUT" "$name"
kill -0 "$DAEMON_PID" || fail "the daemon died reading a damaged snapshot"
expect_exit 1 snapctl inspect no-such-snapshot-1
assert_contains "$OUT" "not found"
log "inspect, get, diff and undelete agree with etcd on every kind of copy"
