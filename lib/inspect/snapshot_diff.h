// The keys added, removed and changed between two snapshots' live key spaces, one by one and
// summed per resource prefix. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/snapshot_contents.h"

namespace snapd {

struct KeyChange {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind = Kind::kAdded;
  std::string key;
  int64_t mod_revision_before = 0;  // 0 when added
  int64_t mod_revision_after = 0;   // 0 when removed
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
};

struct PrefixChanges {
  std::string prefix;
  uint64_t added = 0;
  uint64_t removed = 0;
  uint64_t changed = 0;
};

struct SnapshotDiff {
  std::vector<KeyChange> changes;       // in key order
  std::vector<PrefixChanges> prefixes;  // per ResourcePrefix (no namespaces), in prefix order
  uint64_t unchanged = 0;
};

std::string_view KeyChangeName(KeyChange::Kind kind);  // "added", "removed", "changed"

// What changed from `before` to `after` under `prefix` ("" = everything). A key counts as
// changed when its value, lease or creation differs (a delete and re-create is a change even
// with the same bytes).
SnapshotDiff DiffSnapshots(const SnapshotContents& before, const SnapshotContents& after,
                           std::string_view prefix);

}  // namespace snapd
