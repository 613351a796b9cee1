#!/usr/bin/env bash
# Who may use the control socket: the real daemon with --control-socket-group, and snapctl run
# as the unprivileged user nobody (setpriv). In the group it may read, and save, delete, prune
# and restore only with control-socket-group-access: write (switched by reload); outside the
# group it cannot even connect.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "running snapctl as another user needs root"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
# An existing group that nobody is not in: the member gets it as a supplementary group.
group=users
gid=$(getent group "$group" | cut -d: -f3) || skip "there is no group $group"
id -nG nobody | grep -qw "$group" && skip "nobody is already in group $group"

as_member() { setpriv --reuid=65534 --regid=65534 --groups="$gid" "$SNAPCTL_BIN" "$@"; }
as_stranger() { setpriv --reuid=65534 --regid=65534 --clear-groups "$SNAPCTL_BIN" "$@"; }
# as_member_curl ARGS...: prints the body, then the status on a line of its own.
as_member_curl() {
  setpriv --reuid=65534 --regid=65534 --groups="$gid" curl -s -w '\n%{http_code}' \
    --unix-socket "$K3S_SNAPD_SOCKET" "$@"
}

# reload_daemon: SIGHUP, then waits until the daemon has swapped in the new configuration.
reloaded() { [ "$(grep -c 'configuration reloaded' "$T/daemon.log")" -gt "$1" ]; }
reload_daemon() {
  local before
  before=$(grep -c 'configuration reloaded' "$T/daemon.log" || true)
  kill -HUP "$DAEMON_PID"
  wait_for 10 reloaded "$before" || fail "the daemon did not reload"
}

# $T is private; others reach the socket through a directory they may enter.
chmod 711 "$T"
mkdir -m 755 "$T/run"
export K3S_SNAPD_SOCKET="$T/run/snapd.sock"

start_etcd
for i in $(seq 1 20); do etcdctl_ put "key/$i" "value-$i" >/dev/null; done
start_daemon --etcd-disable-snapshots --control-socket-group "$group"
[ "$(stat -c '%a %G' "$K3S_SNAPD_SOCKET")" = "660 $group" ] ||
  fail "socket is $(stat -c '%a %G' "$K3S_SNAPD_SOCKET"), want 660 $group"

expect_exit 0 snapctl save --no-progress
name=$OUT

log "a member of the group reads"
expect_exit 0 as_member status
assert_contains "$OUT" "etcd:"
expect_exit 0 as_member ls -o name
[ "$OUT" = "$name" ] || fail "member's ls shows '$OUT', want $name"
expect_exit 0 as_member verify --no-progress "$name"
assert_contains "$OUT" "OK"

log "and is refused every change, with what it would take"
need="needs root or control-socket-group-access: write (uid 65534 may only read)"
expect_exit 1 as_member save --no-progress
assert_contains "$OUT" "save $need"
expect_exit 1 as_member delete "$name"
assert_contains "$OUT" "delete $need"
expect_exit 1 as_member prune --snapshot-retention 1
assert_contains "$OUT" "prune $need"
expect_exit 1 as_member restore "$name" --yes --force
assert_contains "$OUT" "restore $need"
answer=$(as_member_curl -X POST -H 'Content-Type: application/json' -d '{}' http://localhost/v1/prune)
[ "${answer##*$'\n'}" = 403 ] || fail "POST /v1/prune as a member answered $answer, want 403"
python3 -c 'import json,sys; b=json.loads(sys.argv[1]); assert b["kind"] == "permission_denied", b' \
  "${answer%$'\n'*}" || fail "403 body is not a permission_denied error: $answer"
[ -f "$SNAPSHOT_DIR/$name" ] || fail "a refused delete removed $name"
expect_exit 0 snapctl ls -o name
[ "$OUT" = "$name" ] || fail "refused requests changed the snapshots: $OUT"
grep -q "refused a request of uid 65534 gid 65534 pid [0-9]*: save $need" "$T/daemon.log" ||
  fail "the refusal was not logged with uid and pid"

log "someone outside the group cannot connect"
expect_exit 1 as_stranger status
assert_contains "$OUT" "permission denied (is your user in the socket's group, or root?)"
expect_exit 1 as_stranger ls

log "with control-socket-group-access: write (on reload) members change snapshots too"
printf 'control-socket-group-access: write\n' >"$T/conf/50-access.yaml"
chmod 600 "$T/conf/50-access.yaml"
reload_daemon
expect_exit 0 as_member save --no-progress
member_name=$OUT
[ -f "$SNAPSHOT_DIR/$member_name" ] || fail "member's save $member_name is not on disk"
expect_exit 0 as_member delete "$member_name"
[ ! -e "$SNAPSHOT_DIR/$member_name" ] || fail "member's delete left $member_name"
expect_exit 0 as_member save --no-progress --name nightly
expect_exit 0 as_member prune --name nightly --snapshot-retention 1
# Restore gets past the access check to the daemon's own refusal: etcd still answers.
expect_exit 1 as_member restore "$name" --yes
assert_contains "$OUT" "etcd still answers"
expect_exit 1 as_stranger save --no-progress
assert_contains "$OUT" "permission denied"

log "and back to read on the next reload"
rm "$T/conf/50-access.yaml"
reload_daemon
expect_exit 1 as_member save --no-progress
assert_contains "$OUT" "save $need"
expect_exit 0 snapctl save --no-progress

stop_daemon
log "ok"
