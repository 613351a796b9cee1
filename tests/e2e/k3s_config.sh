#!/usr/bin/env bash
# k3s's own config as the base layer: every S3 setting lives only in a k3s config.yaml and a
# config.yaml.d drop-in (--k3s-config), merged with k3s's rules, and the snapshot lands in S3
# where k3s would put it, with k3s's token hash; the daemon's own flags win; status names each
# value's source without a secret; a reload re-reads k3s's files; bad k3s values and an open
# file holding a secret stop the daemon naming the k3s file and key.
source "$(dirname "$0")/lib.sh"

start_s3
start_etcd
for i in $(seq 1 50); do etcdctl_ put "key/$i" "value-$i" >/dev/null; done
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN CREDENTIALS_DIRECTORY
# The server token file under data-dir says something else: k3s's `token` must win over it.
mkdir -p "$T/data/server"
printf 'K10deadbeef::server:not-this-one\n' >"$T/data/server/token"
password="k3s-token-password-$RANDOM$RANDOM"
want_hash=$(printf %s "$password" | sha256sum | cut -c1-12)

k3s="$T/k3s/config.yaml"
mkdir -p "$T/k3s/config.yaml.d"
(
  umask 077
  cat >"$k3s" <<YAML
# As a k3s server has it: keys the daemon takes, and many it ignores.
cluster-init: true
tls-san: [k3s.example]
write-kubeconfig-mode: "0644"
token: K10cafe::server:$password
node-name: k3s-node
etcd-disable-snapshots: true
etcd-s3: true
etcd-s3-endpoint: $S3_ENDPOINT
etcd-s3-insecure: true
etcd-s3-bucket: $S3_BUCKET
etcd-s3-region: $S3_REGION
etcd-s3-folder: from-main-file
YAML
  cat >"$T/k3s/config.yaml.d/20-s3.yaml" <<YAML
etcd-s3-folder: k3s-folder
etcd-s3-access-key: $S3_ACCESS_KEY
etcd-s3-secret-key: $S3_SECRET_KEY
tls-san+: [k3s-2.example]
YAML
)

start_daemon --k3s-config "$k3s"
wait_for 30 sh -c "'$SNAPCTL_BIN' status | grep -q 's3 s3://$S3_BUCKET/k3s-folder.* ok$'" ||
  fail "S3 from k3s's config not healthy: $(snapctl status)"
expect_ok_when_idle snapctl save
name=$OUT
# The daemon's --node-name flag wins over k3s's node-name.
[[ $name == on-demand-e2e-node-* ]] || fail "unexpected snapshot name $name"

# Where k3s puts it: <folder>/<name> and <folder>/.metadata/<name>, k3s's metadata, read back
# with curl's own SigV4.
s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/k3s-folder/$name" -o "$T/fetched" ||
  fail "no object at k3s-folder/$name"
cmp -s "$T/fetched" "$SNAPSHOT_DIR/$name" || fail "object differs from the local snapshot"
headers=$(s3_curl -I "http://$S3_ENDPOINT/$S3_BUCKET/k3s-folder/$name")
assert_contains "$headers" "x-amz-meta-k3s-node-name: e2e-node"
assert_contains "$headers" "x-amz-meta-k3s-token-hash: $want_hash"
s3_curl "http://$S3_ENDPOINT/$S3_BUCKET/k3s-folder/.metadata/$name" >/dev/null ||
  fail "no .metadata object beside it"
s3_curl -I "http://$S3_ENDPOINT/$S3_BUCKET/from-main-file/$name" >/dev/null 2>&1 &&
  fail "the main file's folder was used although the drop-in replaces it"

# Status: where each value came from; secrets only as (set).
status=$(snapctl status -o json)
python3 - "$status" "$k3s" <<'PY' || fail "status does not show the sources: $status"
import json, sys
status, main = json.loads(sys.argv[1]), sys.argv[2]
sources, config = status["configSources"], status["config"]
def check(key, want):
    assert sources[key] == want, (key, sources[key], want)
check("etcd-s3-bucket", {"from": "k3s-config", "file": main})
check("etcd-s3-folder", {"from": "k3s-config", "file": main + ".d/20-s3.yaml"})
check("etcd-s3-secret-key", {"from": "k3s-config", "file": main + ".d/20-s3.yaml"})
check("token", {"from": "k3s-config", "file": main})
check("node-name", {"from": "flag", "flag": "--node-name"})
check("k3s-config", {"from": "flag", "flag": "--k3s-config"})
check("etcd-disable-snapshots", {"from": "default"})
assert config["etcd-s3-secret-key"] == "(set)" and config["token"] == "(set)", config
assert config["etcd-s3-folder"] == "k3s-folder", config
# k3s's etcd-disable-snapshots stops k3s's schedule, not the daemon's.
assert status["schedule"]["enabled"], status["schedule"]
PY
printed="$status $(snapctl status) $(snapctl ls 2>&1) $(cat "$T/daemon.log")"
[[ $printed == *"$S3_SECRET_KEY"* ]] && fail "the S3 secret key from k3s's config was printed"
[[ $printed == *"$password"* ]] && fail "the k3s token from k3s's config was printed"

# A reload re-reads k3s's files: a later drop-in replaces the folder.
printf 'etcd-s3-folder: reloaded\n' >"$T/k3s/config.yaml.d/30-folder.yml"
kill -HUP "$DAEMON_PID"
folder_is() {
  [ "$(snapctl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["etcd-s3-folder"])')" = "$1" ]
}
wait_for 20 folder_is reloaded || fail "reload did not re-read k3s's config: $(snapctl status -o json)"
expect_ok_when_idle snapctl save
s3_curl -I "http://$S3_ENDPOINT/$S3_BUCKET/reloaded/$OUT" >/dev/null ||
  fail "after the reload the snapshot is not in the reloaded folder"
stop_daemon

# Errors name the k3s file and key, never a secret, and the daemon does not start.
run_daemon() {
  "$K3S_SNAPD" --config-dir "$T/conf" --data-dir "$T/data" --control-socket "$T/bad.sock" \
    --state-dir "$T/bad-state" --k3s-config "$k3s" "$@"
}
printf 'etcd-s3-retention: many\n' >"$T/k3s/config.yaml.d/40-bad.yaml"
expect_exit 2 run_daemon
assert_contains "$OUT" "$T/k3s/config.yaml.d/40-bad.yaml: etcd-s3-retention: expected an integer"
rm "$T/k3s/config.yaml.d/40-bad.yaml"
chmod 644 "$T/k3s/config.yaml.d/20-s3.yaml"
expect_exit 2 run_daemon
assert_contains "$OUT" "$T/k3s/config.yaml.d/20-s3.yaml: holds etcd-s3-access-key but has mode 0644"
[[ $OUT == *"$S3_SECRET_KEY"* || $OUT == *"$S3_ACCESS_KEY"* ]] && fail "a secret was printed: $OUT"
chmod 600 "$T/k3s/config.yaml.d/20-s3.yaml"
expect_exit 2 run_daemon --k3s-config "$T/k3s/missing.yaml"
assert_contains "$OUT" "--k3s-config: $T/k3s/missing.yaml does not exist"
[ ! -e "$T/bad.sock" ] || fail "a daemon with bad config created its socket"
log "ok"
