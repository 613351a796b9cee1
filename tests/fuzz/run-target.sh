#!/usr/bin/env bash
# Runs one libFuzzer target for a while over its seed corpus and prints one summary line:
# executions, coverage, new inputs and findings. Used by the 'fuzz' test suite and scripts/fuzz.
# usage: run-target.sh BINARY NAME SECONDS MAX_LEN SEED_DIR BUILD_DIR
# New inputs go to BUILD_DIR/fuzz-corpus/NAME (never into the seed corpus in the repo); a
# crashing, leaking or too slow input is saved under BUILD_DIR/fuzz-crashes/NAME/ and fails.
set -uo pipefail
binary=$1 name=$2 seconds=$3 max_len=$4 seeds=$5 build=$6
corpus=$build/fuzz-corpus/$name
crashes=$build/fuzz-crashes/$name
log=$build/fuzz-logs/$name.log
mkdir -p "$corpus" "$crashes" "$(dirname "$log")"

# Symbolized stacks; UBSan findings abort (also compiled in with -fno-sanitize-recover).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
command -v llvm-symbolizer >/dev/null && export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)

# Exit codes: libFuzzer's default 77 would read as "skipped" to meson, so findings exit 1.
"$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=20 -rss_limit_mb=2560 \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
  -artifact_prefix="$crashes/" "$corpus" "$seeds" >"$log" 2>&1
status=$?

stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
runs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
new=$(stat new_units_added)
# The last progress line has the coverage: "#N ... cov: E ft: F corp: C/S ..."
cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
saved=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
if [ "$status" -eq 0 ]; then
  echo "fuzz $name: ${runs:-?} executions in ${seconds}s (${rate:-?}/s), ${cov:-no coverage line}, ${new:-0} new inputs, no findings"
else
  echo "fuzz $name: FINDING (exit $status) after ${runs:-?} executions; input: ${saved:-none saved}; log: $log"
  # The sanitizer or libFuzzer report, for meson's --print-errorlogs.
  grep -E -A25 '^==[0-9]+==ERROR|runtime error|fuzz invariant broken|terminate called|deadly signal|ERROR: libFuzzer' "$log" | head -60
fi
exit "$status"
