// Count-based retention as k3s applies it, with reasons.
#include "retention/retention_policy.h"

#include <algorithm>

#include "snapshot/snapshot_name.h"

namespace snapd {

std::vector<RetentionDecision> ApplyRetention(const std::vector<RetentionCandidate>& snapshots,
                                              const std::string& prefix, int keep_count) {
  struct Entry {
    const RetentionCandidate* candidate;
    int64_t time;
  };
  std::vector<Entry> entries;
  entries.reserve(snapshots.size());
  for (const auto& s : snapshots) {
    entries.push_back({&s, ParseSnapshotTime(s.name).value_or(s.created_at)});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.time != b.time) return a.time > b.time;
    return a.candidate->name > b.candidate->name;
  });

  std::vector<RetentionDecision> decisions;
  decisions.reserve(entries.size());
  int counted = 0;
  for (const Entry& e : entries) {
    const RetentionCandidate& s = *e.candidate;
    RetentionDecision d{s.name, true, ""};
    if (!HasNamePrefix(s.name, prefix)) {
      d.reason = "name does not start with \"" + prefix + "-\"";
    } else if (!s.ready) {
      d.reason = "not ready: failed or partial snapshots are never counted or pruned";
    } else if (keep_count < 1) {
      d.reason = "retention disabled (" + std::to_string(keep_count) + ")";
    } else if (counted < keep_count) {
      ++counted;
      d.reason = "among the newest " + std::to_string(keep_count) + " of \"" + prefix + "\" (#" +
                 std::to_string(counted) + ")";
    } else {
      d.keep = false;
      d.reason = "older than the newest " + std::to_string(keep_count) + " of \"" + prefix + "\"";
    }
    decisions.push_back(std::move(d));
  }
  return decisions;
}

}  // namespace snapd
