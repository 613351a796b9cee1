// Fuzzes the etcd snapshot reader (bbolt pages, MVCC rows, HashKV) over bytes in memory: never
// a crash, hang or other exception than snapd::Error, and what it reads is consistent.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/error.h"
#include "fuzz_input.h"
#include "inspect/snapshot_contents.h"

using snapd::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<snapd::SnapshotContents> contents;
  try {
    contents = snapd::EtcdSnapshotContents(std::span<const uint8_t>(data, size));
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kCorrupt, "unreadable snapshots are corrupt");
    return 0;
  }
  Check(contents->revision() >= 1, "etcd's revision starts at 1");
  Check(contents->compact_revision() <= contents->revision(), "compaction is not in the future");
  try {
    std::string previous;
    size_t live = 0;
    contents->ForEachLive("", false, [&](const snapd::LiveKey& key) {
      Check(live == 0 || std::string(key.key) > previous, "live keys come in key order");
      previous = std::string(key.key);
      ++live;
    });
    Check(live <= contents->stored_revisions(), "no more live keys than rows");
    if (live > 0) {
      size_t exact = 0;
      contents->ForEachLive(previous, true, [&](const snapd::LiveKey&) { ++exact; });
      Check(exact == 1, "an exact lookup finds a live key");
    }
    const std::optional<snapd::KvHash> now = contents->HashKV();
    Check(now.has_value() && now->revision == contents->revision(), "HashKV(0) is at the revision");
    // The revision itself may be the compact revision (everything compacted): etcd refuses it.
    if (contents->revision() > contents->compact_revision()) {
      const std::optional<snapd::KvHash> again = contents->HashKV(contents->revision());
      Check(again->hash == now->hash, "HashKV(0) equals HashKV(revision)");
    }
    const int64_t older = contents->compact_revision() + 1;
    if (older < contents->revision()) (void)contents->HashKV(older);
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kCorrupt, "damaged rows are corrupt");
  }
  return 0;
}
