// Which increments continue a base without a gap, and what moment a time or revision names in
// them. Pure: decisions over names and decoded increments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "incremental/increment_format.h"

namespace snapd {

// A base's recoverable window as the names show it.
struct ChainWindow {
  std::string base;
  int64_t first_revision = 0;             // the base's revision
  int64_t first_unix = 0;                 // the base's creation time
  int64_t last_revision = 0;              // the last revision the contiguous increments reach
  int64_t last_unix = 0;                  // when the chain was known complete through it
  std::vector<IncrementName> increments;  // the contiguous ones, in order
};

// The increments of `base` (whose snapshot is at `base_revision`, made at `base_unix`) that
// continue it exactly: the first starts at base_revision + 1, each next one at the previous
// last + 1; stops at the first gap. Where two start at the same revision (a flush retried after
// a crash), the one reaching further is taken. Names of other bases are ignored.
ChainWindow ContiguousChain(const std::string& base, int64_t base_revision, int64_t base_unix,
                            const std::vector<IncrementName>& names);

// What a restore asks for: a revision, or a time (the last revision received at or before it).
struct ReplayTarget {
  std::optional<int64_t> revision;
  std::optional<int64_t> unix_ms;
};

// Throws Error::InvalidInput naming the window ("... recoverable from revision F (time) to
// revision L (time)") when the target lies before the base or past the window's end.
void CheckTargetInWindow(const ChainWindow& window, const ReplayTarget& target);

// Whether a recorded revision is at or before the target (the replay applies it).
bool WithinTarget(const ReplayTarget& target, const RecordedRevision& revision);

// "revision N" or "2026-12-07T10:00:00Z" (RFC 3339, UTC, with milliseconds when not whole).
std::string DescribeTarget(const ReplayTarget& target);

}  // namespace snapd
