// A store's increments read back: each base's recoverable window from the names alone (for ls
// and status), and the revisions of a chain fed to a replay one increment at a time, each
// decoded and checked against its name and hash.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "incremental/increment_chain.h"
#include "incremental/point_in_time.h"
#include "pipeline/age_keys.h"
#include "snapshot/snapshot_record.h"
#include "store/snapshot_store.h"

namespace snapd {

// Every increment name in `store` that parses, grouped by base.
std::map<std::string, std::vector<IncrementName>> ListIncrementNames(SnapshotStore& store);

// The window of `record` (a ready etcd snapshot with a known revision) given the names of its
// base; a window with no increments when it has none.
ChainWindow WindowOf(const SnapshotRecord& record,
                     const std::map<std::string, std::vector<IncrementName>>& names);

// Feeds the increments of `window` from `store` in order. Each is decoded with `identities`
// when encrypted and must hold exactly the revisions its name says, for its base; anything
// else throws Error::Corrupt naming the increment.
RevisionFeed StoredChainFeed(SnapshotStore& store, const ChainWindow& window,
                             std::vector<AgeIdentity> identities);

}  // namespace snapd
