#!/usr/bin/env bash
# The Debian package, on this machine: scripts/package builds k3s-snapd_<version>-1 and its
# -dbgsym package from a copy of the checkout, lintian finds no error and no warning, `apt
# install` installs it with the unit enabled (and not started: there is neither a drop-in nor a
# k3s server), the installed unit passes `systemd-analyze verify`, the programs run, an upgrade
# to the same version packaged again as -2 keeps the administrator's drop-ins, `dpkg -r` keeps
# them and the daemon's state, and `dpkg -P` removes the state and every trace of the package
# but never a snapshot nor a drop-in the administrator wrote.
# Needs root and the packaging tools (scripts/install-deps), and a machine where k3s-snapd is
# not installed otherwise: it installs and purges the package for real.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "installs a package: needs root"
need dpkg-buildpackage dpkg-dev
need dh debhelper
need lintian lintian
need apt-get apt
need systemd-analyze systemd

# Never touch an installation or files of someone else: this test removes what it installs.
status=$(dpkg-query -W -f='${db:Status-Status}' k3s-snapd 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] ||
  skip "the k3s-snapd package is installed here ($status); dpkg -P k3s-snapd lets this test run"
for path in /usr/bin/k3s-snapd /usr/bin/snapctl /etc/k3s-snapd.d /var/lib/k3s-snapd \
  /etc/systemd/system/k3s-snapd.service.d; do
  [ ! -e "$path" ] || skip "$path exists (scripts/install, or an administrator, put it there)"
done

version=$(meson introspect --projectinfo "$SOURCE_DIR/meson.build" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
# debian/changelog names meson's version too, for a plain dpkg-buildpackage in the checkout.
changelog_version=$(dpkg-parsechangelog -l "$SOURCE_DIR/debian/changelog" -S Version)
[ "${changelog_version%-*}" = "$version" ] ||
  fail "debian/changelog is at $changelog_version, meson.build at $version: add an entry"
deb() { echo "$T/out/k3s-snapd${2:-}_${version}-$1_$arch.deb"; }
unit=/lib/systemd/system/k3s-snapd.service
systemd_runs=no
[ -d /run/systemd/system ] && systemd_runs=yes
# What this test adds to the machine, undone at exit whatever happens.
created_rancher=no masked=no
cleanup() {
  if dpkg-query -W -f='${db:Status-Status}' k3s-snapd 2>/dev/null | grep -qv '^not-installed$'; then
    dpkg -P k3s-snapd >/dev/null 2>&1 || true
  fi
  rm -f /etc/k3s-snapd.d/10-k3s-snapd.yaml /etc/systemd/system/k3s-snapd.service.d/override.conf
  rmdir /etc/k3s-snapd.d /etc/systemd/system/k3s-snapd.service.d 2>/dev/null || true
  if [ "$created_rancher" = yes ]; then rm -rf /var/lib/rancher; fi
  if [ "$masked" = yes ]; then systemctl unmask --runtime k3s-snapd.service >/dev/null 2>&1 || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive

# The package: compiled once (nocheck: the two programs only, no test suite inside the build),
# -2 repackages the same build. One build at a time with the others that share the machine's
# /tmp/ninja.lock, if it has one: held for both, released before anything else.
export DEB_BUILD_OPTIONS="nocheck parallel=2"
start=$SECONDS
if [ -e /tmp/ninja.lock ]; then
  exec {lock}>>/tmp/ninja.lock
  flock "$lock"
  echo "waited $((SECONDS - start)) s for /tmp/ninja.lock"
fi
for revision in 1 2; do
  "$SOURCE_DIR/scripts/package" --revision "$revision" --work "$T/work" \
    --out "$T/out" --no-lintian >"$T/package-$revision.log" 2>&1 ||
    fail "scripts/package --revision $revision failed: $(tail -n 40 "$T/package-$revision.log")"
done
if [ -n "${lock:-}" ]; then exec {lock}>&-; fi
echo "built in $((SECONDS - start)) s"
grep -q 'packaging again' "$T/package-2.log" ||
  echo "note: -2 was compiled again (the sources changed during the test)"
for f in "$(deb 1)" "$(deb 1 -dbgsym)" "$(deb 2)" "$(deb 2 -dbgsym)"; do
  [ -f "$f" ] || fail "no $(basename "$f"); made: $(ls "$T/out")"
done
# The checkout is left alone: no obj-*/ and no debhelper files in it.
if compgen -G "$SOURCE_DIR/obj-*" >/dev/null || [ -e "$SOURCE_DIR/debian/.debhelper" ]; then
  fail "scripts/package built in the checkout"
fi

# lintian: not a single error or warning (overrides carry their reasons).
lintian --fail-on error,warning "$T/out/k3s-snapd_${version}-1_$arch.changes" >"$T/lintian.log" 2>&1 ||
  fail "lintian: $(cat "$T/lintian.log")"
! grep -E '^[EW]: ' "$T/lintian.log" || fail "lintian: $(cat "$T/lintian.log")"

# What the package declares and holds.
field() { dpkg-deb -f "$(deb 1)" "$1"; }
[ "$(field Version)" = "$version-1" ] || fail "version $(field Version), want $version-1"
has() { field "$1" | grep -qw -- "$2" || fail "$1 lacks $2: $(field "$1")"; }
has Depends libc6
has Depends libcurl4
has Depends procps
has Recommends etcd-client
has Suggests age
has Suggests sqlite3
dpkg-deb -c "$(deb 1)" | awk '{ print $1, $6 }' >"$T/contents"
grep -qx -- "-rw-r--r-- .$unit" "$T/contents" || fail "the unit is not at $unit: $(cat "$T/contents")"
grep -qx 'drwx------ ./var/lib/k3s-snapd/' "$T/contents" || fail "no state dir 0700 in the package"
grep -q ' ./usr/share/doc/k3s-snapd/examples/10-k3s-snapd.yaml.example$' "$T/contents" ||
  fail "the example drop-ins are not shipped as documentation"
! grep -E ' ./etc/.+[^/]$' "$T/contents" || fail "the package ships files in /etc"

# Install. --no-install-recommends: everything else is already here (no network needed).
apt-get install -y -q --no-install-recommends "$(deb 1)" >"$T/install.log" 2>&1 ||
  fail "apt install failed: $(cat "$T/install.log")"
[ "$(dpkg-query -W -f='${Version}' k3s-snapd)" = "$version-1" ] || fail "not installed"
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
[ "$(k3s-snapd --version)" = "k3s-snapd $version" ] || fail "k3s-snapd --version: $(k3s-snapd --version)"
snapctl --help | grep -q '^Usage: snapctl' || fail "snapctl --help printed no usage"
[ "$(readlink /etc/systemd/system/multi-user.target.wants/k3s-snapd.service)" = "$unit" ] ||
  fail "the unit is not enabled"
[ -z "$(ls -A /etc/k3s-snapd.d)" ] || fail "/etc/k3s-snapd.d is not empty: $(ls -A /etc/k3s-snapd.d)"
[ -z "$(dpkg-query -W -f='${Conffiles}' k3s-snapd)" ] || fail "the package has conffiles"
[ "$(dpkg -S /var/lib/k3s-snapd | cut -d: -f1)" = k3s-snapd ] || fail "state dir not the package's"
[ "$(stat -c %a /var/lib/k3s-snapd)" = 700 ] || fail "state dir mode $(stat -c %a /var/lib/k3s-snapd)"
doc=$(sed -n 's|^Documentation=.*file://\([^ ]*\).*|\1|p' "$unit")
[ -f "$doc" ] || fail "the unit's documentation $doc is missing"
dpkg -L k3s-snapd >"$T/files"

# Under systemd: with neither drop-in nor k3s server the condition keeps the daemon stopped.
if [ "$systemd_runs" = yes ] && [ ! -e /var/lib/rancher/k3s/server ]; then
  [ "$(systemctl show -P ConditionResult k3s-snapd.service)" = no ] ||
    fail "the unit started without a drop-in or a k3s server: $(systemctl status k3s-snapd 2>&1)"
  ! systemctl -q is-active k3s-snapd.service || fail "the daemon runs without configuration"
fi
if [ "$systemd_runs" = yes ]; then
  # The drop-ins below would let it start at the upgrade: not on this machine.
  systemctl mask --runtime k3s-snapd.service >/dev/null && masked=yes
fi

# The administrator configures it; the daemon leaves a journal entry in its state dir.
cp /usr/share/doc/k3s-snapd/examples/10-k3s-snapd.yaml.example /etc/k3s-snapd.d/10-k3s-snapd.yaml
echo 'etcd-snapshot-retention: 7' >>/etc/k3s-snapd.d/10-k3s-snapd.yaml
mkdir -p /etc/systemd/system/k3s-snapd.service.d
printf '[Service]\nReadWritePaths=/srv/etcd-snapshots\n' >/etc/systemd/system/k3s-snapd.service.d/override.conf
cp /etc/k3s-snapd.d/10-k3s-snapd.yaml "$T/dropin.yaml"
cp /etc/systemd/system/k3s-snapd.service.d/override.conf "$T/override.conf"
mkdir -p /var/lib/k3s-snapd/uploads
echo '{}' >/var/lib/k3s-snapd/uploads/entry
keeps_dropins() {
  cmp -s /etc/k3s-snapd.d/10-k3s-snapd.yaml "$T/dropin.yaml" ||
    fail "$1 changed or removed /etc/k3s-snapd.d/10-k3s-snapd.yaml"
  cmp -s /etc/systemd/system/k3s-snapd.service.d/override.conf "$T/override.conf" ||
    fail "$1 changed or removed the unit's override.conf"
}

# Upgrade to the same version packaged again.
apt-get install -y -q --no-install-recommends "$(deb 2)" >"$T/upgrade.log" 2>&1 ||
  fail "apt install of -2 failed: $(cat "$T/upgrade.log")"
[ "$(dpkg-query -W -f='${Version}' k3s-snapd)" = "$version-2" ] || fail "not upgraded to -2"
keeps_dropins "the upgrade"
[ -f /var/lib/k3s-snapd/uploads/entry ] || fail "the upgrade lost the state dir"
[ -L /etc/systemd/system/multi-user.target.wants/k3s-snapd.service ] ||
  fail "the upgrade disabled the unit"
k3s-snapd --version >/dev/null || fail "k3s-snapd does not run after the upgrade"

# Remove: the programs go, the configuration and the state stay.
dpkg -r k3s-snapd >"$T/remove.log" 2>&1 || fail "dpkg -r failed: $(cat "$T/remove.log")"
[ "$(dpkg-query -W -f='${db:Status-Status}' k3s-snapd)" = config-files ] || fail "not removed"
for path in /usr/bin/k3s-snapd /usr/bin/snapctl "$unit"; do
  [ ! -e "$path" ] || fail "dpkg -r left $path"
done
keeps_dropins "dpkg -r"
[ -f /var/lib/k3s-snapd/uploads/entry ] || fail "dpkg -r removed the state dir"

# Purge: the state goes with everything else of the package; a snapshot never does, nor the
# administrator's drop-ins.
if [ ! -e /var/lib/rancher ]; then
  created_rancher=yes
  mkdir -p /var/lib/rancher/k3s/server/db/snapshots
  echo snapshot >/var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-test-1700000000
fi
dpkg -P k3s-snapd >"$T/purge.log" 2>&1 || fail "dpkg -P failed: $(cat "$T/purge.log")"
status=$(dpkg-query -W -f='${db:Status-Status}' k3s-snapd 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "after dpkg -P the status is $status"
[ ! -e /var/lib/k3s-snapd ] || fail "dpkg -P left the state dir: $(find /var/lib/k3s-snapd)"
while read -r path; do
  [ -d "$path" ] && continue # shared dirs (/usr/bin, /lib -> usr/lib) stay
  if [ -e "$path" ] || [ -L "$path" ]; then fail "dpkg -P left $path"; fi
done <"$T/files"
for path in /usr/share/doc/k3s-snapd /usr/share/k3s-snapd; do
  [ ! -e "$path" ] || fail "dpkg -P left $path"
done
left=$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
  /var/lib/systemd/deb-systemd-helper-masked -name 'k3s-snapd*' ! -path '*/k3s-snapd.service.d*' \
  2>/dev/null || true)
[ -z "$left" ] || fail "dpkg -P left systemd state: $left"
[ "$(ls -A /etc/k3s-snapd.d)" = 10-k3s-snapd.yaml ] ||
  fail "/etc/k3s-snapd.d holds more than the administrator's drop-in: $(ls -A /etc/k3s-snapd.d)"
keeps_dropins "dpkg -P"
if [ "$created_rancher" = yes ]; then
  [ -f /var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-test-1700000000 ] ||
    fail "dpkg -P removed a snapshot"
fi
echo "package: ok ($(basename "$(deb 1)"), lintian clean)"
