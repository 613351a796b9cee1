#!/usr/bin/env bash
# etcd as k3s runs it: https with client-certificate authentication.
source "$(dirname "$0")/lib.sh"

start_etcd --tls
etcdctl_ put tls-key tls-value >/dev/null

# Without a client certificate etcd refuses, and the error says so.
start_daemon --etcd-disable-snapshots --etcd-cacert "$T/pki/ca.crt"
expect_exit 1 snapctl save
assert_contains "$OUT" "save failed"
[ -z "$(ls "$SNAPSHOT_DIR")" ] || fail "a failed save left files: $(ls "$SNAPSHOT_DIR")"
stop_daemon

# With k3s's files in their default places it just works.
tls="$T/data/server/tls/etcd"
mkdir -p "$tls"
cp "$T/pki/ca.crt" "$tls/server-ca.crt"
cp "$T/pki/client.crt" "$tls/client.crt"
cp "$T/pki/client.key" "$tls/client.key"
start_daemon --etcd-disable-snapshots
expect_exit 0 snapctl save
etcdctl snapshot status "$SNAPSHOT_DIR/$OUT" >/dev/null || fail "snapshot over TLS is not valid"
status=$(snapctl status)
assert_contains "$status" "reachable (version"

# A named certificate file that does not exist is a start-up error naming the key.
expect_exit 2 "$K3S_SNAPD" --config-dir "$T/conf" --data-dir "$T/data" --etcd-endpoint "$ETCD_URL" \
  --etcd-cert "$T/missing.crt" --control-socket "$T/other.sock" --state-dir "$T/other-state"
assert_contains "$OUT" "etcd-cert"
log "ok"
