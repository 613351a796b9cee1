// DiffSnapshots: a merge of the two snapshots' live keys, both read in key order.
#include "inspect/snapshot_diff.h"

#include <map>

#include "inspect/resource_prefix.h"

namespace snapd {
namespace {

std::vector<LiveKey> LiveKeys(const SnapshotContents& contents, std::string_view prefix) {
  std::vector<LiveKey> keys;
  contents.ForEachLive(prefix, false, [&](const LiveKey& kv) { keys.push_back(kv); });
  return keys;
}

bool Same(const LiveKey& a, const LiveKey& b) {
  return a.value == b.value && a.lease == b.lease && a.create_revision == b.create_revision;
}

}  // namespace

std::string_view KeyChangeName(KeyChange::Kind kind) {
  switch (kind) {
    case KeyChange::Kind::kAdded:
      return "added";
    case KeyChange::Kind::kRemoved:
      return "removed";
    case KeyChange::Kind::kChanged:
      return "changed";
  }
  return "";
}

SnapshotDiff DiffSnapshots(const SnapshotContents& before, const SnapshotContents& after,
                           std::string_view prefix) {
  const std::vector<LiveKey> a = LiveKeys(before, prefix);
  const std::vector<LiveKey> b = LiveKeys(after, prefix);
  SnapshotDiff diff;
  std::map<std::string, PrefixChanges, std::less<>> per_prefix;
  auto note = [&](KeyChange change) {
    std::string resource = ResourcePrefix(change.key, false);
    auto it = per_prefix.find(resource);
    if (it == per_prefix.end()) it = per_prefix.emplace(resource, PrefixChanges{resource}).first;
    switch (change.kind) {
      case KeyChange::Kind::kAdded:
        ++it->second.added;
        break;
      case KeyChange::Kind::kRemoved:
        ++it->second.removed;
        break;
      case KeyChange::Kind::kChanged:
        ++it->second.changed;
        break;
    }
    diff.changes.push_back(std::move(change));
  };
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].key < b[j].key)) {
      note({KeyChange::Kind::kRemoved, std::string(a[i].key), a[i].mod_revision, 0,
            a[i].value.size(), 0});
      ++i;
    } else if (i == a.size() || b[j].key < a[i].key) {
      note({KeyChange::Kind::kAdded, std::string(b[j].key), 0, b[j].mod_revision, 0,
            b[j].value.size()});
      ++j;
    } else {
      if (Same(a[i], b[j])) {
        ++diff.unchanged;
      } else {
        note({KeyChange::Kind::kChanged, std::string(a[i].key), a[i].mod_revision,
              b[j].mod_revision, a[i].value.size(), b[j].value.size()});
      }
      ++i;
      ++j;
    }
  }
  for (auto& [resource, changes] : per_prefix) diff.prefixes.push_back(std::move(changes));
  return diff;
}

}  // namespace snapd
