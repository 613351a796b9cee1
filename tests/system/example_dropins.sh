#!/usr/bin/env bash
# The example drop-ins are usable: as shipped (all commented) the daemon starts with them, and
# every key they show is one the daemon knows with a value of the right type, so uncommenting
# a line never gives "unknown key" or a type error.
source "$(dirname "$0")/lib.sh"
daemon="$BUILD_DIR/daemon/k3s-snapd"
snapctl="$BUILD_DIR/daemon/snapctl"
examples=("$SOURCE_DIR"/etc/*.yaml.example)
[ ${#examples[@]} -ge 2 ] || fail "expected at least two example drop-ins, found ${examples[*]}"
mkdir -p "$T/conf" "$T/data" "$T/one"

# As shipped, under the names an administrator copies them to.
for example in "${examples[@]}"; do
  copy="$T/conf/$(basename "$example" .example)"
  install -m 600 "$example" "$copy"
done
"$daemon" --config-dir "$T/conf" --data-dir "$T/data" --control-socket "$T/snapd.sock" \
  --state-dir "$T/state" --etcd-endpoint http://127.0.0.1:1 >"$T/daemon.log" 2>&1 &
pid=$!
trap 'kill -KILL "$pid" 2>/dev/null || true; rm -rf "$T"' EXIT
for _ in $(seq 1 100); do
  "$snapctl" --socket "$T/snapd.sock" status >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "k3s-snapd stopped with the examples: $(cat "$T/daemon.log")"
  sleep 0.1
done
"$snapctl" --socket "$T/snapd.sock" status >/dev/null || fail "k3s-snapd does not answer"
kill -TERM "$pid"
wait "$pid" || fail "k3s-snapd exited $? on SIGTERM: $(cat "$T/daemon.log")"

# check_line "KEY: VALUE": the daemon reads it without a key or type error. An invalid cron
# flag (flags win over files) makes it stop right after reading the files.
check_line() {
  printf '%s\n' "$1" >"$T/one/10-line.yaml"
  chmod 600 "$T/one/10-line.yaml"
  local out
  out=$("$daemon" --config-dir "$T/one" --data-dir "$T/data" --control-socket "$T/one.sock" \
    --state-dir "$T/one-state" --etcd-snapshot-schedule-cron=never 2>&1) && fail "k3s-snapd ran with an invalid cron flag"
  if grep -E 'unknown key|invalid YAML|expected an? [a-z]+, got|segmentation' <<<"$out"; then
    return 1
  fi
  return 0
}
# The check is live: a misspelt key is caught.
! check_line "etcd-snapshot-retenton: 5" >/dev/null || fail "a misspelt key was not reported"

count=0
for example in "${examples[@]}"; do
  while IFS= read -r line; do
    out=$(check_line "$line") || fail "$(basename "$example"): '$line' is refused: $out"
    count=$((count + 1))
  done < <(sed -n 's/^# \([a-z0-9-]*: .*\)$/\1/p' "$example")
done
[ "$count" -ge 20 ] || fail "found only $count example settings"
echo "example drop-ins: ok ($count settings)"
