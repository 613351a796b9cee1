// UndeleteKeys: put-if-absent, key by key, so each key's outcome is its own and a later failure
// leaves the earlier ones done and reported.
#include "backup/undelete.h"

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "etcd/etcd_client.h"

namespace snapd {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);

}  // namespace

UndeleteReport UndeleteKeys(const SnapshotContents& contents, EtcdCoordinationClient& etcd,
                            const std::string& key, bool prefix, const std::string& snapshot_name,
                            const std::atomic<bool>* cancel) {
  if (key.empty()) throw Error::InvalidInput("undelete needs a key");
  std::vector<LiveKey> chosen;
  contents.ForEachLive(key, !prefix, [&](const LiveKey& kv) { chosen.push_back(kv); });
  if (chosen.empty()) {
    throw Error::NotFound(std::string(prefix ? "no key under " : "no key ") +
                          EtcdKeyForMessage(key) + " in " + snapshot_name);
  }
  UndeleteReport report;
  std::vector<UndeleteOutcome>& outcomes = report.outcomes;
  for (const LiveKey& kv : chosen) {
    if (cancel != nullptr && cancel->load()) {
      report.error = "cancelled after " + std::to_string(outcomes.size()) + " of " +
                     std::to_string(chosen.size()) + " keys";
      return report;
    }
    UndeleteOutcome outcome;
    outcome.key = std::string(kv.key);
    outcome.snapshot_revision = kv.mod_revision;
    if (kv.lease != 0) {
      outcome.reason = "bound to lease " + std::to_string(kv.lease) + " in the snapshot";
      spdlog::info("undelete: skipped {} from {}: {}", EtcdKeyForMessage(kv.key), snapshot_name,
                   outcome.reason);
      outcomes.push_back(std::move(outcome));
      continue;
    }
    EtcdClaim claim;
    try {
      claim = etcd.PutIfAbsent(kv.key, kv.value, 0, kCallTimeout);
    } catch (const Error& e) {
      spdlog::error("undelete: {} from {} failed after {} of {} keys: {}",
                    EtcdKeyForMessage(kv.key), snapshot_name, outcomes.size(), chosen.size(),
                    e.what());
      report.error = "undelete of " + EtcdKeyForMessage(kv.key) + " failed after " +
                     std::to_string(outcomes.size()) + " of " + std::to_string(chosen.size()) +
                     " keys: " + e.what();
      return report;
    }
    outcome.recreated = claim.created;
    outcome.revision = claim.created ? claim.kv.mod_revision : claim.kv.create_revision;
    if (claim.created) {
      spdlog::info("undelete: recreated {} from {} (revision {} there) at revision {}",
                   EtcdKeyForMessage(kv.key), snapshot_name, kv.mod_revision,
                   claim.kv.mod_revision);
    } else {
      outcome.reason =
          "exists (created at revision " + std::to_string(claim.kv.create_revision) + ")";
      spdlog::info("undelete: skipped {} from {}: {}", EtcdKeyForMessage(kv.key), snapshot_name,
                   outcome.reason);
    }
    outcomes.push_back(std::move(outcome));
  }
  return report;
}

}  // namespace snapd
