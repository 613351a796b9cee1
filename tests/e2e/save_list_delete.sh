#!/usr/bin/env bash
# On-demand save, list, delete and name validation as a user drives them with snapctl; the
# snapshot is a real etcd snapshot that etcdctl accepts and that restores with its hash check.
source "$(dirname "$0")/lib.sh"

start_etcd
for i in $(seq 1 100); do etcdctl_ put "key/$i" "value-$i" >/dev/null; done
start_daemon --etcd-disable-snapshots

expect_exit 0 snapctl save
name=$OUT
[[ $name =~ ^on-demand-e2e-node-[0-9]{10}$ ]] || fail "unexpected snapshot name '$name'"
file="$SNAPSHOT_DIR/$name"
[ -f "$file" ] || fail "$file missing"
[ "$(stat -c %a "$file")" = 600 ] || fail "snapshot mode $(stat -c %a "$file"), want 600"
[ "$(stat -c %a "$SNAPSHOT_DIR")" = 700 ] || fail "dir mode $(stat -c %a "$SNAPSHOT_DIR"), want 700"
[ -f "$T/data/server/db/.metadata/$name" ] || fail "no .metadata record for $name"

# etcd's own tools accept it: status reads it, restore checks the SHA-256 trailer.
etcdctl snapshot status "$file" -w json >"$T/status.json" || fail "etcdctl snapshot status rejected it"
keys=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totalKey"])' "$T/status.json")
[ "$keys" -ge 100 ] || fail "snapshot holds $keys keys, expected at least 100"
etcdctl snapshot restore "$file" --data-dir "$T/restored" >/dev/null 2>&1 ||
  fail "etcdctl snapshot restore (hash check) rejected it"

# The record matches the file.
json=$(snapctl ls -o json)
python3 - "$json" "$name" "$(sha256sum "$file" | cut -d' ' -f1)" "$(stat -c %s "$file")" <<'PY' || fail "ls -o json does not match the file"
import json, sys
records, name, sha, size = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
r = [r for r in records if r["name"] == name]
assert len(r) == 1, r
r = r[0]
for key in ("name", "node", "storage", "location", "size", "createdAt", "compressed", "status", "tokenHash"):
    assert key in r, key
assert r["storage"] == "local" and r["status"] == "ready" and r["node"] == "e2e-node"
assert r["location"].startswith("file:///") and r["location"].endswith(name)
assert r["size"] == size and r["sha256"] == sha, (r, size, sha)
PY

# Table output has kubectl-like columns.
table=$(snapctl ls)
assert_contains "$table" "NAME"
assert_contains "$table" "LOCATION"
assert_contains "$table" "$name"

# --name replaces the prefix; names stay unique.
expect_exit 0 snapctl save --name nightly
[[ $OUT =~ ^nightly-e2e-node-[0-9]{10}$ ]] || fail "unexpected name '$OUT'"
nightly=$OUT

# Bad input is refused with usage errors, and nothing is touched.
expect_exit 2 snapctl delete ../../etc/passwd
assert_contains "$OUT" "../../etc/passwd"
expect_exit 2 snapctl save --name 'bad/name'
expect_exit 2 snapctl save --name ''
expect_exit 2 snapctl frobnicate
expect_exit 2 snapctl ls -o yaml
# The daemon refuses a crafted request too.
code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$K3S_SNAPD_SOCKET" \
  -X DELETE 'http://localhost/v1/snapshots/..%2F..%2Fetc%2Fpasswd')
[ "$code" = 400 ] || fail "crafted delete answered $code: $(cat "$T/resp")"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$K3S_SNAPD_SOCKET" \
  -X POST -d '{"name": 5}' 'http://localhost/v1/snapshots')
[ "$code" = 400 ] || fail "bad save body answered $code"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$K3S_SNAPD_SOCKET" \
  -X POST -d 'not json' 'http://localhost/v1/prune')
[ "$code" = 400 ] || fail "bad prune body answered $code"

# Delete removes file and record; deleting again is a clear failure.
expect_exit 0 snapctl delete "$name"
assert_contains "$OUT" "deleted $name"
[ ! -e "$file" ] || fail "$file still exists"
[ ! -e "$T/data/server/db/.metadata/$name" ] || fail "record of $name still exists"
expect_exit 1 snapctl delete "$name"
assert_contains "$OUT" "not found"
listed_names | grep -qx "$nightly" || fail "$nightly no longer listed"
log "ok"
