#!/usr/bin/env bash
# Measures one copy of a live ~1 GiB kine database by each method while kine-writer writes, for
# docs/sqlite-copy-measurements.md. Not a test: run it by hand on an otherwise idle machine.
#
#   ninja -C build tests/tools/kine-writer tests/bench/sqlite-copy-bench
#   tests/bench/sqlite_copy_measure.sh [BUILD_DIR]     # BENCH_TMP (default /var/tmp), SIZE_MB
#
# Prints one markdown table row per run; raw JSON goes to $BENCH_TMP/sqlite-copy-bench/runs.jsonl.
set -euo pipefail
build=${1:-build}
dir=${BENCH_TMP:-/var/tmp}/sqlite-copy-bench
size_mb=${SIZE_MB:-1024}
writer=$build/tests/tools/kine-writer
bench=$build/tests/bench/sqlite-copy-bench
db=$dir/state.db
# The live writer: 200 writes/s of 4 KiB values (rows of about 8 KiB with old_value) over 20000
# keys, for 20 s; the copy starts 3 s in.
live=(--rate 200 --value-bytes 4096 --keys 20000 --seconds 20)

rm -rf "$dir"
mkdir -p "$dir"

# Drops the source's pages from the page cache (this file only, not the machine's whole cache).
evict() {
  python3 -c 'import os, sys
for f in sys.argv[1:]:
    if os.path.exists(f):
        fd = os.open(f, os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$db" "$db-wal"
}

# run SCENARIO METHOD CACHE [WRITER ARGS...]: METHOD "none" is the writer alone.
run() {
  local scenario=$1 method=$2 cache=$3
  shift 3
  rm -f "$dir"/copy.db*
  sync
  "$writer" --db "$db" "${live[@]}" "$@" --latency-out "$dir/writer.json" &
  local writer_pid=$!
  sleep 3
  [ "$cache" = cold ] && evict
  if [ "$method" = none ]; then
    echo '{}' >"$dir/copy.json"
  else
    "$bench" "$method" "$db" "$dir/copy.db" >"$dir/copy.json"
  fi
  wait "$writer_pid"
  python3 - "$scenario" "$method" "$cache" "$dir" <<'PY'
import json, os, sys
scenario, method, cache, d = sys.argv[1:]
c = json.load(open(f"{d}/copy.json")); w = json.load(open(f"{d}/writer.json"))
with open(f"{d}/runs.jsonl", "a") as f:
    f.write(json.dumps({"scenario": scenario, "cache": cache, "copy": c, "writer": w}) + "\n")
mib = lambda b: "-" if b is None or b < 0 else f"{b / 2**20:.0f}"
g = lambda k, f="{:.0f}": "-" if c.get(k) is None else f.format(c[k])
extra = f" restarts {c['restarts']}, finished {c['finished']}" if "restarts" in c else ""
print(f"| {scenario} | {method}{extra} | {cache} | {g('seconds', '{:.2f}')} | {g('read_transaction_ms')} | "
      f"{mib(c.get('bytes'))} | {w['p50_ms']:.2f} / {w['p99_ms']:.2f} / {w['max_ms']:.0f} | "
      f"{w['checkpoint_max_ms']:.0f} | {mib(c.get('wal_before'))} -> {mib(c.get('wal_after'))} | "
      f"{c.get('wal_frames', '-')}/{c.get('wal_frames_checkpointed', '-')} |")
PY
}

db_info() {
  sqlite3 "$db" "SELECT 'database ' || ((SELECT page_count FROM pragma_page_count) * 4096 >> 20) ||
    ' MiB, free ' || ((SELECT freelist_count FROM pragma_freelist_count) * 4096 >> 20) || ' MiB, ' ||
    (SELECT count(*) FROM kine) || ' rows, revision ' || (SELECT MAX(id) FROM kine)"
}
# kine's compaction of everything but the last 1000 revisions, outside the measured runs.
compact() {
  echo "compaction: $( { /usr/bin/time -f '%e s' "$writer" --db "$db" --writes 1 --compact-every 1 \
    --value-bytes 4096 --keys 20000; } 2>&1 )"
}

echo "fill: $( { /usr/bin/time -f '%e s' "$writer" --db "$db" --fill-mb "$size_mb" --value-bytes 4096 --keys 20000; } 2>&1 )"
db_info
echo
echo "| database | method | cache | copy s | read tx ms | copy MiB | writer p50 / p99 / max ms | FULL checkpoint max ms | WAL MiB before -> after | WAL frames / checkpointed |"
echo "|---|---|---|---|---|---|---|---|---|---|"
run full none warm
for i in 1 2 3; do
  for method in lib backup-held backup-all vacuum; do run full "$method" warm; done
done
run full lib cold
run full backup-held cold
run full backup-steps warm

# Most pages free, as kine leaves a database after its compactions (it never vacuums).
compact
db_info
for i in 1 2 3; do
  for method in lib backup-held; do run compacted "$method" warm; done
done

# kine compacting, and checkpointing FULL, about every second while the copy runs (#586).
compact
run compacting none warm --compact-every 200
for i in 1 2; do
  for method in lib backup-held; do run compacting "$method" warm --compact-every 200; done
done
db_info
