// Chains of increments over a base and restore targets within them. Names only: nothing here
// reads an increment.
#include "incremental/increment_chain.h"

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "core/time_format.h"

namespace snapd {
namespace {

std::string DescribeUnixMs(int64_t unix_ms) {
  // Floor to the second so that times before 1970 print the second they fall in.
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  std::string text = FormatRfc3339(seconds);
  if (millis != 0) {
    const std::string digits = std::to_string(1000 + millis).substr(1);
    text.insert(text.size() - 1, "." + digits);
  }
  return text;
}

// Seconds so far from 1970 that milliseconds overflow are no time anyone recovers to: clamped.
int64_t UnixMs(int64_t seconds) {
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000;
  return std::clamp(seconds, -kLimit, kLimit) * 1000;
}

std::string DescribeWindow(const ChainWindow& window) {
  return window.base + "'s recoverable window: revision " + std::to_string(window.first_revision) +
         " (" + FormatRfc3339(window.first_unix) + ") to revision " +
         std::to_string(window.last_revision) + " (" + FormatRfc3339(window.last_unix) + ")";
}

}  // namespace

ChainWindow ContiguousChain(const std::string& base, int64_t base_revision, int64_t base_unix,
                            const std::vector<IncrementName>& names) {
  ChainWindow window;
  window.base = base;
  window.first_revision = window.last_revision = base_revision;
  window.first_unix = window.last_unix = base_unix;

  // Sorted by first revision, the best of those starting together first: the one reaching
  // further, then the one confirmed later (it knew the chain complete for longer).
  std::vector<const IncrementName*> candidates;
  for (const IncrementName& name : names)
    if (name.base == base && name.last_revision >= name.first_revision) candidates.push_back(&name);
  std::sort(candidates.begin(), candidates.end(), [](const auto* a, const auto* b) {
    if (a->first_revision != b->first_revision) return a->first_revision < b->first_revision;
    if (a->last_revision != b->last_revision) return a->last_revision > b->last_revision;
    return a->confirmed_unix > b->confirmed_unix;
  });

  auto it = candidates.begin();
  while (window.last_revision < std::numeric_limits<int64_t>::max()) {
    const int64_t next = window.last_revision + 1;
    it = std::lower_bound(it, candidates.end(), next, [](const auto* name, int64_t first) {
      return name->first_revision < first;
    });
    if (it == candidates.end() || (*it)->first_revision != next) break;
    window.increments.push_back(**it);
    window.last_revision = (*it)->last_revision;
    window.last_unix = (*it)->confirmed_unix;
  }
  return window;
}

void CheckTargetInWindow(const ChainWindow& window, const ReplayTarget& target) {
  if (target.revision && target.unix_ms)
    throw Error::InvalidInput("give a revision or a time to recover to, not both");
  // No target: the whole window, which is always within it.
  if (target.revision) {
    const std::string what = "--to-revision " + std::to_string(*target.revision);
    if (*target.revision < window.first_revision)
      throw Error::InvalidInput(what + " is before the start of " + DescribeWindow(window));
    if (*target.revision > window.last_revision)
      throw Error::InvalidInput(what + " is past the end of " + DescribeWindow(window));
  }
  if (target.unix_ms) {
    const std::string what = "--to-time " + DescribeUnixMs(*target.unix_ms);
    // Compared in milliseconds: the window's ends are whole seconds.
    if (*target.unix_ms < UnixMs(window.first_unix))
      throw Error::InvalidInput(what + " is before the start of " + DescribeWindow(window));
    if (*target.unix_ms > UnixMs(window.last_unix))
      throw Error::InvalidInput(what + " is past the end of " + DescribeWindow(window));
  }
}

bool WithinTarget(const ReplayTarget& target, const RecordedRevision& revision) {
  if (target.revision) return revision.revision <= *target.revision;
  if (target.unix_ms) return revision.received_unix_ms <= *target.unix_ms;
  return true;
}

std::string DescribeTarget(const ReplayTarget& target) {
  if (target.revision) return "revision " + std::to_string(*target.revision);
  if (target.unix_ms) return DescribeUnixMs(*target.unix_ms);
  return "the end of the chain";
}

}  // namespace snapd
