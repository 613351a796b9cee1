#!/usr/bin/env bash
# The daemon speaks systemd's notify protocol: READY=1 once serving, STATUS= with the last
# result, WATCHDOG=1 pings at half WatchdogSec, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM.
source "$(dirname "$0")/lib.sh"

start_etcd
# A listener standing in for systemd: appends every datagram to $T/notify.log.
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.5)
end = time.time() + 60
with open(sys.argv[2], "a", buffering=1) as log:
    while time.time() < end:
        try:
            data = s.recv(4096).decode()
        except socket.timeout:
            continue
        log.write(data.replace("\n", " | ") + "\n")
PY
PIDS+=($!)
wait_for 5 test -S "$T/notify.sock" || fail "notify listener did not start"

NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000 start_daemon --etcd-disable-snapshots
wait_for 10 grep -q 'READY=1' "$T/notify.log" || fail "no READY=1: $(cat "$T/notify.log")"
grep 'READY=1' "$T/notify.log" | grep -q 'STATUS=' || fail "READY=1 came without a STATUS"
sleep 2
pings=$(grep -c 'WATCHDOG=1' "$T/notify.log" || true)
[ "$pings" -ge 3 ] || fail "only $pings WATCHDOG=1 pings in 2 s with WatchdogSec=1s"

expect_exit 0 snapctl save
wait_for 5 grep -q "STATUS=last snapshot $OUT" "$T/notify.log" || fail "STATUS does not name the last snapshot"

kill -HUP "$DAEMON_PID"
wait_for 10 grep -q 'RELOADING=1' "$T/notify.log" || fail "no RELOADING=1 on SIGHUP"
stop_daemon
grep -q 'STOPPING=1' "$T/notify.log" || fail "no STOPPING=1 on SIGTERM"
log "ok"
