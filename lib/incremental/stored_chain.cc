// Reading increments back from a store.
#include "incremental/stored_chain.h"

#include <memory>

#include "core/error.h"
#include "incremental/increment_codec.h"

namespace snapd {

std::map<std::string, std::vector<IncrementName>> ListIncrementNames(SnapshotStore& store) {
  std::map<std::string, std::vector<IncrementName>> names;
  for (const std::string& text : store.ListIncrements()) {
    IncrementName name;
    if (ParseIncrementName(text, name)) names[name.base].push_back(name);
  }
  return names;
}

ChainWindow WindowOf(const SnapshotRecord& record,
                     const std::map<std::string, std::vector<IncrementName>>& names) {
  auto it = names.find(record.name);
  static const std::vector<IncrementName> kNone;
  return ContiguousChain(record.name, static_cast<int64_t>(record.revision), record.created_at,
                         it == names.end() ? kNone : it->second);
}

RevisionFeed StoredChainFeed(SnapshotStore& store, const ChainWindow& window,
                             std::vector<AgeIdentity> identities) {
  auto next = std::make_shared<size_t>(0);
  return [&store, window, identities = std::move(identities),
          next](std::vector<RecordedRevision>& batch) -> bool {
    if (*next >= window.increments.size()) return false;
    const IncrementName& name = window.increments[(*next)++];
    const std::string text = FormatIncrementName(name);
    try {
      const std::string stored = store.ReadIncrement(text);
      Increment increment = DecodeIncrement(
          DecodeStoredIncrement(stored, name.compressed, name.encrypted, identities));
      if (increment.base != window.base || increment.first_revision != name.first_revision ||
          increment.last_revision != name.last_revision) {
        throw Error::Corrupt("it holds revisions " + std::to_string(increment.first_revision) +
                             "-" + std::to_string(increment.last_revision) + " of " +
                             increment.base);
      }
      batch = std::move(increment.revisions);
    } catch (const Error& e) {
      throw e.WithContext("increment " + text + " in " + std::string(store.Kind()));
    }
    return true;
  };
}

}  // namespace snapd
