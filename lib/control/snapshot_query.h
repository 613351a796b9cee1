// The filters of GET /v1/snapshots (`snapctl ls --storage --node --name --limit`): parsed from
// the request's query and applied to a newest-first listing. Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/snapshot_record.h"

namespace snapd {

struct SnapshotQuery {
  std::string storage;          // "local" or "s3"; "" = every store
  std::string node;             // exact node name; "" = every node
  std::string name_prefix;      // names starting with it; "" = every name
  std::optional<size_t> limit;  // the newest this many (after the other filters)
};

// Reads storage=, node=, name=, limit= from the query of `target` (percent-encoded, '+' a
// space). Throws Error::InvalidInput naming an unknown parameter, a repeated one, a storage
// other than local or s3, or a limit that is not a whole number.
SnapshotQuery ParseSnapshotQuery(std::string_view target);

// Keeps the records `query` asks for, in their order (the listing's: newest first).
void ApplySnapshotQuery(const SnapshotQuery& query, std::vector<SnapshotRecord>& records);

// The query string (with its '?', or "" when nothing is filtered) for `query`.
std::string SnapshotQueryString(const SnapshotQuery& query);

}  // namespace snapd
