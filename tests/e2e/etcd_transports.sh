#!/usr/bin/env bash
# Both etcd transports give byte-identical snapshots: native gRPC over HTTP/2 (as etcdctl, the
# default when etcd answers it) and the gRPC-gateway, in clear and with TLS client certs; auto
# falls back to the gateway behind an HTTP/1.1-only proxy.
source "$(dirname "$0")/lib.sh"

for mode in plain tls; do
  if [ $mode = tls ]; then start_etcd --tls; else start_etcd; fi
  fill_etcd 6
  tls_flags=()
  if [ $mode = tls ]; then
    tls_flags=(--etcd-cacert "$T/pki/ca.crt" --etcd-cert "$T/pki/client.crt" --etcd-key "$T/pki/client.key")
  fi
  for transport in grpc gateway auto; do
    start_daemon --etcd-transport "$transport" "${tls_flags[@]}"
    expect_exit 0 snapctl save --name "$mode-$transport"
    stop_daemon
  done
  grep -q "etcd transport: grpc" "$T/daemon.log" || fail "auto did not pick gRPC ($mode)"
  sums=$(sha256sum "$SNAPSHOT_DIR/$mode"-* | awk '{print $1}' | sort -u | wc -l)
  [ "$sums" -eq 1 ] || fail "the transports gave different snapshots ($mode): $(sha256sum "$SNAPSHOT_DIR/$mode"-*)"
  etcdctl snapshot status "$(ls "$SNAPSHOT_DIR/$mode-grpc-"*)" >/dev/null || fail "etcdctl rejects the gRPC snapshot"
  stop_etcd
  rm -rf "$T/etcd" "$T/daemon.log"
done

# Behind a proxy that speaks only HTTP/1.1, auto settles on the gateway; grpc fails clearly.
start_etcd
python3 "$(dirname "$0")/../faults/fault_proxy.py" --upstream "${ETCD_URL#http://}" \
  --port-file "$T/proxy-port" --kind etcd --log "$T/proxy.log" &
PIDS+=($!)
wait_for 10 test -s "$T/proxy-port" || fail "the proxy did not start"
ETCD_URL="http://127.0.0.1:$(cat "$T/proxy-port")"
start_daemon
expect_exit 0 snapctl save --name proxied
grep -q "etcd transport: gateway" "$T/daemon.log" || fail "auto did not fall back to the gateway"
stop_daemon
start_daemon --etcd-transport grpc
expect_exit 1 snapctl save --name forced
assert_contains "$OUT" "(gRPC)"
log "ok"
