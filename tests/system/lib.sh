# Shared helpers of the system tests: a temp dir removed at exit, fail/skip, and a
# `meson install --destdir` of the build with the install paths it was configured with.
# Usage: source it; BUILD_DIR and SOURCE_DIR come from meson's environment.
# shellcheck shell=bash
set -euo pipefail

: "${BUILD_DIR:?BUILD_DIR must point at the meson build dir}"
: "${SOURCE_DIR:?SOURCE_DIR must point at the source dir}"
T=$(mktemp -d /tmp/k3s-snapd-system.XXXXXX)
trap 'rm -rf "$T"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  echo "SKIP: $*"
  exit 77
}
need() {
  command -v "$1" >/dev/null || skip "$1 is not installed (scripts/install-deps: $2)"
}

# install_to DIR: installs the build under DIR and sets PREFIX, BINDIR, MANDIR, DATADIR,
# SYSCONFDIR (absolute, as on the target system) and ROOT=DIR.
install_to() {
  ROOT=$1
  meson install -C "$BUILD_DIR" --no-rebuild --destdir "$ROOT" >"$T/install.log" 2>&1 ||
    fail "meson install failed: $(cat "$T/install.log")"
  local dirs
  dirs=$(meson introspect --buildoptions "$BUILD_DIR" | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
for k in ("bindir", "mandir", "datadir", "sysconfdir"):
    print(k.upper(), os.path.join(p, o[k]))
print("PREFIX", p)')
  while read -r name value; do printf -v "$name" '%s' "$value"; done <<<"$dirs"
  # shellcheck disable=SC2034  # for the scripts that source this
  UNITDIR=$PREFIX/lib/systemd/system
}
