// Which snapshots of one name prefix to keep and which to prune, with the reason for each.
// Pure: the caller lists the snapshots; nothing here reads a clock or a disk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace snapd {

struct RetentionCandidate {
  std::string name;
  int64_t created_at = 0;  // unix seconds, used when the name has no time in it
  bool ready = true;
};

struct RetentionDecision {
  std::string name;
  bool keep = true;
  std::string reason;
};

// Keeps the newest `keep_count` ready snapshots whose name starts with "<prefix>-" (newest by
// the time in the name, as k3s sorts, else created_at; ties by name). Everything else is kept
// with its reason: another prefix, not ready (a failed snapshot is never counted and never
// deleted), or retention disabled (keep_count < 1, as in k3s). Decisions come newest first.
std::vector<RetentionDecision> ApplyRetention(const std::vector<RetentionCandidate>& snapshots,
                                              const std::string& prefix, int keep_count);

}  // namespace snapd
