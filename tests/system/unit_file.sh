#!/usr/bin/env bash
# The installed systemd unit passes `systemd-analyze verify` without a single message, and
# `systemd-analyze security` rates its exposure 2.5 or lower. No systemd needs to run.
source "$(dirname "$0")/lib.sh"
need systemd-analyze systemd

install_to "$T/root"
installed="$T/root$UNITDIR/k3s-snapd.service"
[ -f "$installed" ] || fail "no unit at $UNITDIR/k3s-snapd.service"

# verify checks that ExecStart is executable and that the Documentation= man pages exist, so
# point both at the destdir: ExecStart is the only line changed from the installed unit.
mkdir -p "$T/units"
unit="$T/units/k3s-snapd.service"
sed "s|^ExecStart=$BINDIR/|ExecStart=$T/root$BINDIR/|" "$installed" >"$unit"
grep -q "^ExecStart=$T/root$BINDIR/k3s-snapd\$" "$unit" || fail "unexpected ExecStart in the unit"
export MANPATH="$T/root$MANDIR"

# verify is silent on success: any output at all is a warning.
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"

# The check is live: a unit whose binary is missing is reported.
sed "s|^ExecStart=.*|ExecStart=$T/missing/k3s-snapd|" "$unit" >"$T/units/broken.service"
out=$(systemd-analyze verify "$T/units/broken.service" 2>&1) || true
[[ $out == *"$T/missing/k3s-snapd"* ]] || fail "verify did not notice a missing binary: $out"

# Exposure: "→ Overall exposure level for k3s-snapd.service: 1.4 OK".
systemd-analyze security --offline=true "$unit" >"$T/security.txt" 2>&1 ||
  fail "systemd-analyze security failed: $(cat "$T/security.txt")"
exposure=$(sed -n 's/.*Overall exposure level for k3s-snapd.service: \([0-9.]*\).*/\1/p' \
  "$T/security.txt")
[ -n "$exposure" ] || fail "no exposure level in: $(cat "$T/security.txt")"
echo "exposure: $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' ||
  fail "exposure $exposure is above 2.5: $(grep '✗' "$T/security.txt")"
# Running as root and using the network are the point of the service; nothing else may be open.
unexpected=$(grep '✗' "$T/security.txt" | grep -v -e 'User=/DynamicUser=' -e 'PrivateNetwork=' \
  -e 'RestrictAddressFamilies=~AF_UNIX' -e 'RestrictAddressFamilies=~AF_(INET|INET6)' \
  -e 'IPAddressDeny=' -e 'RootDirectory=/RootImage=' -e 'DeviceAllow=.*char-rtc' || true)
[ -z "$unexpected" ] || fail "unexpected exposure: $unexpected"
echo "unit file: ok"
