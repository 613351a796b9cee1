#!/usr/bin/env bash
# The daemon works inside the sandbox of its systemd unit. It is traced with strace through a
# session like production (TLS etcd with k3s's certificate files, the token file, S3 with keys
# from systemd credentials where Ceph RGW is installed, metrics over TCP, scheduled and
# on-demand saves, list, status, delete, prune, SIGHUP, SIGTERM during a save) and every call
# is checked against the unit: system call filter, address families, W^X memory, namespaces,
# writable paths, and what ProtectHome, ProcSubset and PrivateDevices hide (check_trace.py).
source "$(dirname "$0")/../e2e/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
command -v strace >/dev/null || skip "strace is not installed (scripts/install-deps)"
command -v systemd-analyze >/dev/null ||
  skip "systemd-analyze is not installed (scripts/install-deps)"
unit="$BUILD_DIR/systemd/k3s-snapd.service"
[ -f "$unit" ] || fail "no generated unit at $unit"

# The daemon's files where the unit has them: data-dir for /var/lib/rancher/k3s, the control
# socket in the runtime dir. Started under strace; DAEMON_PID is strace's pid. Like the unit
# (PrivateUsers=, CapabilityBoundingSet=, NoNewPrivileges=, UMask=), it runs as root in a
# user namespace mapping only root, without any capability, so root's 0600 files must be
# readable through ownership alone.
mkdir -p "$T/run" "$T/data/server/tls/etcd"
chmod 700 "$T/data" "$T/run"
export K3S_SNAPD_SOCKET="$T/run/snapd.sock"
sandbox=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
  unshare --user --map-user=0 --map-group=0 true 2>/dev/null; then
  sandbox=(unshare --user --map-user=0 --map-group=0
    setpriv --bounding-set=-all --inh-caps=-all --no-new-privs)
else
  echo "system: cannot drop to root in a user namespace without capabilities; tracing as is"
fi
printf '#!/bin/sh\numask 077\nexec %s strace -f -qq -y -s 256 -o "%s" -- "%s" "$@"\n' \
  "${sandbox[*]}" "$T/trace" "$BUILD_DIR/daemon/k3s-snapd" >"$T/traced-k3s-snapd"
chmod +x "$T/traced-k3s-snapd"
# shellcheck disable=SC2034  # read by start_daemon in ../e2e/lib.sh
K3S_SNAPD="$T/traced-k3s-snapd"

start_etcd --tls
fill_etcd 12
for f in ca.crt:server-ca.crt client.crt:client.crt client.key:client.key; do
  install -m 600 "$T/pki/${f%%:*}" "$T/data/server/tls/etcd/${f##*:}"
done
printf 'K10deadbeef::server:system-test-token\n' >"$T/data/server/token"
chmod 600 "$T/data/server/token"

metrics_address="127.0.0.1:$(free_port)"
flags=(--etcd-snapshot-schedule-cron '@every 3s' --etcd-snapshot-retention 2
  --metrics-address "$metrics_address")
with_s3=""
if command -v radosgw >/dev/null; then
  start_s3
  # The keys come as systemd credentials, under the names the unit's LoadCredential= uses.
  mkdir -p "$T/credentials"
  for id in $(sed -n 's/^LoadCredential=\([a-z0-9-]*\)$/\1/p' "$unit"); do
    case $id in
      etcd-s3-access-key) printf %s "$S3_ACCESS_KEY" >"$T/credentials/$id" ;;
      etcd-s3-secret-key) printf %s "$S3_SECRET_KEY" >"$T/credentials/$id" ;;
    esac
  done
  [ -f "$T/credentials/etcd-s3-access-key" ] && [ -f "$T/credentials/etcd-s3-secret-key" ] ||
    fail "the unit does not load both S3 key credentials: $(grep LoadCredential "$unit")"
  chmod 400 "$T/credentials"/*
  export CREDENTIALS_DIRECTORY="$T/credentials"
  # By host name, as S3 endpoints are, so name resolution is traced too: the host's own name
  # where it means 127.0.0.1 (curl answers "localhost" itself, without the resolver).
  s3_host=localhost
  if getent ahostsv4 "$(hostname)" | grep -q '^127\.0\.0\.1 '; then s3_host=$(hostname); fi
  flags+=(--etcd-s3 --etcd-s3-endpoint "$s3_host:${S3_ENDPOINT##*:}" --etcd-s3-insecure
    --etcd-s3-bucket "$S3_BUCKET" --etcd-s3-region "$S3_REGION"
    --etcd-s3-bucket-lookup-type path --etcd-s3-retention 2)
  with_s3=1
else
  echo "system: Ceph RGW is not installed; tracing without S3"
fi

start_daemon "${flags[@]}"
# DAEMON_PID runs strace (unshare and setpriv exec it); k3s-snapd is its only child.
daemon=$(tr -d ' ' <"/proc/$DAEMON_PID/task/$DAEMON_PID/children")
[[ $daemon =~ ^[0-9]+$ ]] || fail "cannot find the traced k3s-snapd (children of strace: '$daemon')"
if [ ${#sandbox[@]} -gt 0 ]; then
  grep -q '^CapEff:[[:space:]]*0*$' "/proc/$daemon/status" || fail "k3s-snapd kept capabilities"
fi
if [ -n "$with_s3" ]; then
  wait_for 60 sh -c "'$SNAPCTL_BIN' status | grep -q 's3 s3://.* ok'" ||
    fail "S3 is not healthy with the keys from credentials: $(snapctl status)"
fi

expect_ok_when_idle snapctl save --name traced --no-progress
name=$OUT
for format in table wide json name; do expect_exit 0 snapctl ls -o "$format"; done
expect_exit 0 snapctl status -o json
# Served code paths get traced; whether the answers are right is for other tests.
curl -s --unix-socket "$K3S_SNAPD_SOCKET" http://localhost/metrics >/dev/null || true
curl -s "http://$metrics_address/metrics" >/dev/null || true
wait_for 30 sh -c "'$SNAPCTL_BIN' ls -o name | grep -q '^etcd-snapshot-'" ||
  fail "no scheduled snapshot: $(snapctl ls)"

# The bash completion offers the names the real daemon lists.
offered=$(bash --norc --noprofile -c 'source "$1"; COMP_WORDS=("$2" delete ""); COMP_CWORD=2
  _snapctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$SOURCE_DIR/etc/bash-completion/snapctl" \
  "$SNAPCTL_BIN")
grep -qx "$name" <<<"$offered" || fail "completion did not offer $name: $offered"

expect_ok_when_idle snapctl delete "$name"
expect_ok_when_idle snapctl prune --name etcd-snapshot --snapshot-retention 1

# Reload with a changed drop-in, then stop in the middle of a save.
printf 'etcd-snapshot-retention: 3\n' >"$T/conf/50-reload.yaml"
kill -HUP "$daemon"
sleep 1
expect_exit 0 snapctl status
snapctl save --no-progress >/dev/null 2>&1 &
saver=$!
PIDS+=("$saver")
wait_for 10 sh -c "'$SNAPCTL_BIN' status -o json | grep -q '\"job\": {'" || true
kill -TERM "$daemon"
deadline=$((SECONDS + 30))
while kill -0 "$DAEMON_PID" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "k3s-snapd did not stop after SIGTERM"
  sleep 0.2
done
wait "$DAEMON_PID" 2>/dev/null || true
wait "$saver" 2>/dev/null || true

check() {
  python3 "$here/check_trace.py" "$1" "$T/trace" --test-dir "$T" \
    --map "/var/lib/rancher/k3s=$T/data" --map "/run/k3s-snapd=$T/run" \
    --map "/var/lib/k3s-snapd=$STATE_DIR"
}
check "$unit" >"$T/check.log" 2>&1 ||
  fail "the daemon does what its unit forbids:
$(grep -m 40 PROBLEM "$T/check.log" || cat "$T/check.log")"

# The check is live: a unit without the writable snapshot dir and without network calls fails.
grep -v '^ReadWritePaths=' "$unit" >"$T/narrow.service"
echo 'SystemCallFilter=~@network-io' >>"$T/narrow.service"
if check "$T/narrow.service" >"$T/narrow.log" 2>&1; then
  fail "check_trace.py accepted a unit that forbids writing snapshots"
fi
grep -q 'renameat2 writes .*/server/db/snapshots/' "$T/narrow.log" || fail "no write reported"
grep -q 'system call connect is not in SystemCallFilter' "$T/narrow.log" || fail "no call reported"
head -c 800 "$T/check.log"
echo
echo "syscall filter: ok${with_s3:+ (with S3)}"
