#!/usr/bin/env bash
# No secret is ever printed: with unique S3 keys, a unique k3s token and an age key, everything
# the daemon and snapctl print (logs, errors, status, ls, metrics, API answers, verify, restore,
# config errors) is searched for them: zero hits. Files are private whatever the umask, and
# symlinks in the snapshot dir are never followed for writes or deletes.
source "$(dirname "$0")/lib.sh"

start_s3
start_etcd
for i in $(seq 1 30); do etcdctl_ put "k/$i" "v-$i" >/dev/null; done
password="token-password-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$T/data/server"
printf 'K10%s::server:%s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$password" \
  >"$T/data/server/token"
age-keygen -o "$T/age.key" 2>/dev/null
chmod 600 "$T/age.key"
age_secret=$(grep AGE-SECRET-KEY "$T/age.key")
recipient=$(age-keygen -y "$T/age.key")
session_token="session-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$S3_SECRET_KEY" >"$T/s3-secret"
chmod 600 "$T/s3-secret"

# Everything is written with umask 000: files must still be private.
umask 000
out="$T/printed"
: >"$out"
capture() { "$@" >>"$out" 2>&1 || true; }
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY"
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-s3-secret-key-file "$T/s3-secret" \
  --etcd-snapshot-encryption-recipients "$recipient" \
  --etcd-snapshot-encryption-identity-file "$T/age.key" --metrics-address "127.0.0.1:$(free_port)" \
  --log-level debug
umask 022
expect_exit 0 snapctl save
name=$OUT
echo "$OUT" >>"$out"
capture snapctl ls -o json
capture snapctl ls -o wide
capture snapctl status
capture snapctl status -o json
capture snapctl verify --all -o json
capture curl -s --unix-socket "$K3S_SNAPD_SOCKET" http://x/metrics
capture curl -s --unix-socket "$K3S_SNAPD_SOCKET" http://x/v1/status
capture curl -s --unix-socket "$K3S_SNAPD_SOCKET" http://x/v1/jobs/1
capture curl -s --unix-socket "$K3S_SNAPD_SOCKET" -X POST -d '{"bogus": 1}' http://x/v1/snapshots

# Files: 0600 snapshots, records and token backups in 0700 dirs, despite umask 000.
for path in "$SNAPSHOT_DIR/$name" "$T/data/server/db/.metadata/$name" \
  "$T/data/server/db/.metadata/$name.token.age"; do
  [ "$(stat -c %a "$path")" = 600 ] || fail "$path has mode $(stat -c %a "$path")"
done
for dir in "$SNAPSHOT_DIR" "$T/data/server/db/.metadata"; do
  [ "$(stat -c %a "$dir")" = 700 ] || fail "$dir has mode $(stat -c %a "$dir")"
done

# A restore stages the decrypted snapshot and token privately, and prints neither.
stop_etcd
mkdir -p "$T/data/server/db/etcd"
cat >"$T/k3s" <<'EOF'
#!/bin/sh
for a in "$@"; do case $a in --cluster-reset-restore-path=*) p=${a#*=} ;; esac; done
stat -c '%a' "$p" >"$(dirname "$0")/staged-mode"
stat -c '%a' "$(dirname "$p")" >"$(dirname "$0")/staging-dir-mode"
mkdir -p "$(dirname "$0")/data/server/db/etcd"
EOF
chmod +x "$T/k3s"
capture snapctl restore "$name" --yes --restore-token --k3s "$T/k3s"
[ "$(cat "$T/staged-mode")" = 600 ] || fail "the staged snapshot had mode $(cat "$T/staged-mode")"
[ "$(cat "$T/staging-dir-mode")" = 700 ] || fail "the staging dir had mode $(cat "$T/staging-dir-mode")"
[ "$(stat -c %a "$T/data/server/token")" = 600 ] || fail "the restored token is not 0600"

# Failures print what failed, never the secret: a wrong secret key, a config file holding a
# secret with a bad mode, a bad identity file.
stop_daemon
printf '%s-wrong\n' "$S3_SECRET_KEY" >"$T/s3-secret"
# shellcheck disable=SC2046
start_daemon $(s3_flags) --etcd-s3-secret-key-file "$T/s3-secret" --etcd-s3-timeout 3s \
  --etcd-s3-session-token "$session_token"
capture snapctl save
capture snapctl status
stop_daemon
printf 'etcd-s3-secret-key: %s\ntoken: %s\n' "$S3_SECRET_KEY" "$password" >"$T/conf/60-secret.yaml"
chmod 644 "$T/conf/60-secret.yaml"
capture "$K3S_SNAPD" --config-dir "$T/conf" --data-dir "$T/data" --control-socket "$T/x.sock" \
  --state-dir "$T/x-state"
chmod 600 "$T/conf/60-secret.yaml"
printf 'etcd-s3-secret-key: [%s]\n' "$S3_SECRET_KEY" >"$T/conf/60-secret.yaml"
capture "$K3S_SNAPD" --config-dir "$T/conf" --data-dir "$T/data" --control-socket "$T/x.sock" \
  --state-dir "$T/x-state"
rm "$T/conf/60-secret.yaml"
capture "$K3S_SNAPD" --config-dir "$T/conf" --state-dir "$T/x-state" \
  --etcd-s3-secret-key "$S3_SECRET_KEY" --bogus-flag
capture "$K3S_SNAPD" --config-dir "$T/conf" --state-dir "$T/x-state" --token "$password" \
  --etcd-snapshot-schedule-cron nope
chmod 644 "$T/age.key"
start_daemon --etcd-snapshot-encryption-identity-file "$T/age.key"
capture snapctl verify "$name"
stop_daemon
cat "$T/daemon.log" >>"$out"

[ "$(wc -l <"$out")" -gt 40 ] || fail "too little output captured to prove anything: $(cat "$out")"
for secret in "$S3_SECRET_KEY" "$password" "$age_secret" "$session_token"; do
  if grep -qF -- "$secret" "$out"; then
    fail "a secret was printed: $(grep -nF -- "$secret" "$out" | head -3)"
  fi
done
# The check is live: the secrets are in the files the daemon read.
grep -qF -- "$password" "$T/data/server/token" || fail "the token check is not live"
log "searched $(wc -l <"$out") lines of output for 4 secrets: none found"

# Symlinks in the snapshot dir are neither followed by deletes nor by the leftover sweep.
echo "precious" >"$T/victim"
ln -s "$T/victim" "$SNAPSHOT_DIR/on-demand-e2e-node-1700000000"
ln -s "$T/victim" "$SNAPSHOT_DIR/on-demand-e2e-node-1700000001.part"
touch -h -d '1 hour ago' "$SNAPSHOT_DIR/on-demand-e2e-node-1700000001.part"
start_daemon
expect_exit 1 snapctl delete on-demand-e2e-node-1700000000
[ "$(cat "$T/victim")" = precious ] || fail "a delete followed a symlink"
[ -L "$SNAPSHOT_DIR/on-demand-e2e-node-1700000001.part" ] || true
[ "$(cat "$T/victim")" = precious ] || fail "the leftover sweep followed a symlink"
listed_names | grep -q 1700000000 && fail "a symlink is listed as a snapshot"
log "ok"
