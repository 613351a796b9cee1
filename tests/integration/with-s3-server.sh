#!/usr/bin/env bash
# Runs a command against a throwaway Ceph RGW: starts scripts/s3-test-server in a temp dir,
# exports its S3_* settings, runs the command, and always stops RGW. Exits 77 (skipped) when
# RGW's packages are not installed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
server="$here/../../scripts/s3-test-server"

for bin in radosgw ceph-mon ceph-osd radosgw-admin; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "SKIP: $bin not installed (run scripts/install-s3-peer)"
    exit 77
  fi
done
[[ $# -gt 0 ]] || { echo "usage: ${0##*/} COMMAND [ARG...]" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/s3-it.XXXXXX") || exit 1
cleanup() {
  "$server" stop "$dir/rgw" >/dev/null 2>&1
  rm -rf -- "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! "$server" start "$dir/rgw" >"$dir/start.out" 2>&1; then
  echo "with-s3-server: RGW did not start:" >&2
  cat "$dir/start.out" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1091 # written by s3-test-server
. "$dir/rgw/env"
set +a
"$@"
