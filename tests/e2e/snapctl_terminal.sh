#!/usr/bin/env bash
# snapctl at a terminal and in scripts: a live progress bar under a pseudo-terminal, only the
# name on stdout otherwise, --help for every command, -o json that parses, human tables.
source "$(dirname "$0")/lib.sh"

command -v script >/dev/null || skip "script (util-linux) is not installed"

start_etcd
fill_etcd 60 # a database big enough that a save takes a second or more
# Over native gRPC 72 MB stream in well under a second, too fast to watch a bar fill; the
# gateway's JSON takes a few seconds, and the bar is what is tested here.
start_daemon --etcd-disable-snapshots --etcd-transport gateway

# is_json FILE: fails unless FILE holds one JSON document.
is_json() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1"; }

# Under a pseudo-terminal: the bar is redrawn in place with a percent, a rate and an ETA, then
# cleared, and the name is printed.
script -qfec "'$SNAPCTL_BIN' save" /dev/null </dev/null >"$T/tty.out" 2>&1 ||
  fail "snapctl save under a pty failed: $(cat -v "$T/tty.out")"
tty_out=$(cat "$T/tty.out")
log "pty output: $(tr '\r' '\n' <"$T/tty.out" | grep -m1 'MiB/s' || true)"
grep -qE '[0-9]{1,3}%' "$T/tty.out" || fail "no percent in the progress: $(cat -v "$T/tty.out")"
assert_contains "$tty_out" "MiB/s"
assert_contains "$tty_out" "ETA "
assert_contains "$tty_out" $'\r' # redrawn in place, not one line per poll
draws=$(tr '\r' '\n' <"$T/tty.out" | grep -c 'ETA ' || true)
[ "$draws" -ge 3 ] || fail "the bar was drawn $draws times; the save was too quick to show it"
# The last line is the name alone: the bar was cleared before it.
last=$(tr '\r' '\n' <"$T/tty.out" | sed 's/ *$//' | grep -v '^$' | tail -n 1)
[[ $last =~ ^on-demand-e2e-node-[0-9]{10}$ ]] || fail "last line under a pty is '$last'"
[ -f "$SNAPSHOT_DIR/$last" ] || fail "$last is not in $SNAPSHOT_DIR"
tty_name=$last

# --no-progress under a pty: just the name.
script -qfec "'$SNAPCTL_BIN' save --no-progress" /dev/null </dev/null >"$T/quiet.out" 2>&1 ||
  fail "snapctl save --no-progress failed: $(cat -v "$T/quiet.out")"
[[ $(tr -d '\r' <"$T/quiet.out") =~ ^on-demand-e2e-node-[0-9]{10}$ ]] ||
  fail "--no-progress printed more than the name: $(cat -v "$T/quiet.out")"

# Not a terminal: stdout is the name only; progress, if any, goes to stderr as plain lines.
name=$(snapctl save 2>"$T/save.err") || fail "save failed: $(cat "$T/save.err")"
[[ $name =~ ^on-demand-e2e-node-[0-9]{10}$ ]] || fail "stdout of a piped save is '$name'"
if grep -q $'\r' "$T/save.err"; then fail "a bar was drawn on a file: $(cat -v "$T/save.err")"; fi
while read -r line; do
  [[ $line == "saving $name: "* ]] || fail "unexpected stderr line of a piped save: '$line'"
done <"$T/save.err"
# 2>&1 into one file: nothing but the name, so scripts reading it stay simple.
snapctl save >"$T/both.out" 2>&1 || fail "save failed: $(cat "$T/both.out")"
[ "$(wc -l <"$T/both.out")" -eq 1 ] && [[ $(cat "$T/both.out") =~ ^on-demand-e2e-node-[0-9]{10}$ ]] ||
  fail "save >f 2>&1 wrote more than the name: $(cat "$T/both.out")"

# The API reports the total for progress.
snapctl save -o json >"$T/save.json" || fail "save -o json failed"
is_json "$T/save.json" || fail "save -o json is not JSON: $(cat "$T/save.json")"
python3 - "$T/save.json" <<'PY' || fail "save -o json has no sensible bytes/total: $(cat "$T/save.json")"
import json, sys
job = json.load(open(sys.argv[1]))
assert job["state"] == "succeeded", job
assert job["total"] == job["bytes"] and job["total"] > 50 * 1000 * 1000, job
PY

# Every data command's -o json parses.
snapctl ls -o json >"$T/ls.json" && is_json "$T/ls.json" || fail "ls -o json: $(cat "$T/ls.json")"
snapctl status -o json >"$T/status.json" && is_json "$T/status.json" ||
  fail "status -o json: $(cat "$T/status.json")"
snapctl prune --snapshot-retention 10 -o json >"$T/prune.json" && is_json "$T/prune.json" ||
  fail "prune -o json: $(cat "$T/prune.json")"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["retention"] == 10 and p["stores"], p' \
  "$T/prune.json" || fail "prune -o json lacks its report: $(cat "$T/prune.json")"
victim=$(listed_names | head -n 1)  # the newest: not one checked below
snapctl delete -o json "$victim" >"$T/delete.json" && is_json "$T/delete.json" ||
  fail "delete -o json: $(cat "$T/delete.json")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["name"] == sys.argv[2] and d[0]["deletedFrom"] == ["local"], d' \
  "$T/delete.json" "$victim" || fail "delete -o json: $(cat "$T/delete.json")"
set +e
snapctl delete -o json "$victim" >"$T/delete2.json" 2>/dev/null
code=$?
set -e
[ $code -eq 1 ] || fail "deleting a missing snapshot exited $code"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "error" in d[0], d' "$T/delete2.json" ||
  fail "a failed delete's JSON has no error: $(cat "$T/delete2.json")"

# Tables: human sizes and ages; -o wide exact bytes and RFC 3339 times.
size=$(stat -c %s "$SNAPSHOT_DIR/$tty_name")
table=$(snapctl ls)
header=$(head -n 1 <<<"$table")
[[ $header =~ ^NAME\ +NODE\ +STORAGE\ +LOCATION\ +SIZE\ +CREATED\ +STATUS$ ]] ||
  fail "ls header is '$header'"
row=$(grep "^$tty_name " <<<"$table") || fail "$tty_name not in the table: $table"
[[ $row =~ \ [0-9]+\.[0-9]\ MiB\  ]] || fail "ls SIZE is not human: $row"
[[ $row =~ \ [0-9]+[smh]\ ago\  ]] || fail "ls CREATED is not an age: $row"
wide=$(snapctl ls -o wide | grep "^$tty_name ") || fail "$tty_name not in ls -o wide"
[[ $wide =~ \ $size\  ]] || fail "ls -o wide does not show the exact size $size: $wide"
[[ $wide =~ \ 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\  ]] ||
  fail "ls -o wide does not show an RFC 3339 time: $wide"
snapctl ls -o name | grep -qx "$tty_name" || fail "ls -o name does not list $tty_name"

# Status text shows when the last success was.
status=$(snapctl status)
grep -qE '^last success: +20[0-9-]+T[0-9:]+Z \([0-9]+[smh] ago\) on-demand-' <<<"$status" ||
  fail "status has no age for the last success: $status"

# Every command has its own help, by --help, -h and help COMMAND; all exit 0.
for cmd in save ls delete prune status help; do
  for form in "$cmd --help" "$cmd -h" "help $cmd"; do
    # shellcheck disable=SC2086
    expect_exit 0 snapctl $form
    assert_contains "$OUT" "Usage: snapctl $cmd"
  done
done
expect_exit 0 snapctl list --help
assert_contains "$OUT" "Usage: snapctl ls"
expect_exit 0 snapctl --help
assert_contains "$OUT" "Usage: snapctl [--socket PATH] COMMAND"
# Unknown options are usage errors pointing at the command's help.
for cmd in save ls delete prune status; do
  expect_exit 2 snapctl "$cmd" --frobnicate
  assert_contains "$OUT" "unknown option \"--frobnicate\""
  assert_contains "$OUT" "snapctl $cmd --help"
done
expect_exit 2 snapctl help frobnicate
expect_exit 2 snapctl save -o table
assert_contains "$OUT" "snapctl save --help"
log "ok"
