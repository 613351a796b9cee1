// List, delete and prune across the configured stores, and the stored-snapshot counts of the
// metrics. Saving is in snapshot_save.cc, verify and stage in snapshot_verify.cc.
#include "backup/snapshot_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "snapshot/snapshot_name.h"

namespace snapd {

SnapshotService::SnapshotService(SnapshotServiceOptions options, Datastore& datastore,
                                 std::vector<SnapshotStore*> stores, const Clock& clock)
    : options_(std::move(options)),
      datastore_(datastore),
      stores_(std::move(stores)),
      clock_(clock) {}

SnapshotListing SnapshotService::List(std::string_view storage) {
  SnapshotListing listing;
  for (SnapshotStore* store : stores_) {
    if (!storage.empty() && store->Kind() != storage) continue;
    try {
      std::vector<SnapshotRecord> records = store->List();
      listing.records.insert(listing.records.end(), std::make_move_iterator(records.begin()),
                             std::make_move_iterator(records.end()));
    } catch (const std::exception& e) {
      listing.errors.push_back({std::string(store->Kind()), e.what()});
    }
  }
  std::sort(listing.records.begin(), listing.records.end(),
            [](const SnapshotRecord& a, const SnapshotRecord& b) {
              if (a.created_at != b.created_at) return a.created_at > b.created_at;
              if (a.name != b.name) return a.name < b.name;
              return a.storage < b.storage;
            });
  return listing;
}

std::vector<std::string> SnapshotService::Delete(const std::string& name) {
  ValidateSnapshotName(name);
  std::vector<std::string> removed;
  std::string errors;
  for (SnapshotStore* store : stores_) {
    try {
      store->Remove(name);
      removed.emplace_back(store->Kind());
      spdlog::info("deleted snapshot {} from {}", name, store->Kind());
      RefreshStoredCount(*store);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNotFound) continue;
      errors += (errors.empty() ? "" : "; ") + std::string(store->Kind()) + ": " + e.what();
    }
  }
  if (!errors.empty()) {
    std::string done;
    for (const std::string& s : removed) done += (done.empty() ? "" : ", ") + s;
    throw Error::Transient("delete " + name + ": " + errors +
                           (done.empty() ? "" : " (removed from " + done + ")"));
  }
  if (removed.empty()) throw Error::NotFound("snapshot " + name + " not found");
  return removed;
}

std::vector<DeleteOutcome> SnapshotService::DeleteMany(const std::vector<std::string>& names) {
  std::vector<DeleteOutcome> outcomes;
  std::map<std::string, size_t, std::less<>> index;
  for (const std::string& name : names) {
    ValidateSnapshotName(name);
    if (index.emplace(name, outcomes.size()).second) outcomes.push_back({name, {}, ""});
  }
  auto note_error = [](DeleteOutcome& o, std::string_view storage, const std::string& what) {
    o.error += (o.error.empty() ? "" : "; ") + std::string(storage) + ": " + what;
  };
  for (SnapshotStore* store : stores_) {
    const std::string kind(store->Kind());
    std::vector<SnapshotRecord> listed;
    try {
      listed = store->List();
    } catch (const std::exception& e) {
      for (DeleteOutcome& o : outcomes)
        note_error(o, kind, std::string("cannot list: ") + e.what());
      continue;
    }
    std::vector<std::string> present;
    size_t ready = 0;
    std::set<std::string, std::less<>> ready_present;
    for (const SnapshotRecord& r : listed) {
      if (r.status == "ready") ++ready;
      if (!index.contains(r.name)) continue;
      present.push_back(r.name);
      if (r.status == "ready") ready_present.insert(r.name);
    }
    std::vector<RemoveFailure> failures;
    try {
      failures = store->RemoveMany(present);
    } catch (const std::exception& e) {
      for (const std::string& name : present) failures.push_back({name, e.what()});
    }
    std::set<std::string, std::less<>> failed;
    for (const RemoveFailure& f : failures) {
      failed.insert(f.name);
      note_error(outcomes[index.at(f.name)], kind, f.error);
    }
    size_t removed_ready = 0;
    for (const std::string& name : present) {
      if (failed.contains(name)) continue;
      outcomes[index.at(name)].deleted_from.push_back(kind);
      removed_ready += ready_present.contains(name) ? 1 : 0;
      spdlog::info("deleted snapshot {} from {}", name, kind);
    }
    if (options_.metrics != nullptr) {
      options_.metrics->SetStoredSnapshots(kind, ready - removed_ready);
    }
  }
  for (DeleteOutcome& o : outcomes) {
    if (o.deleted_from.empty() && o.error.empty()) o.error = "snapshot " + o.name + " not found";
  }
  return outcomes;
}

PruneReport SnapshotService::PruneStore(SnapshotStore& store, const std::string& prefix,
                                        const RetentionPolicy& policy, bool dry_run) {
  PruneReport report;
  report.storage = std::string(store.Kind());
  std::vector<RetentionCandidate> candidates;
  try {
    for (const SnapshotRecord& r : store.List()) {
      candidates.push_back({r.name, r.created_at, r.status == "ready"});
    }
  } catch (const std::exception& e) {
    report.errors.push_back(std::string("cannot list: ") + e.what());
    return report;
  }
  report.decisions = ApplyRetention(candidates, prefix, policy, options_.retention_clock);
  std::vector<std::string> doomed;
  for (const RetentionDecision& d : report.decisions) {
    if (!d.keep && !dry_run) doomed.push_back(d.name);
  }
  // At once: S3 deletes up to 333 snapshots a request instead of three requests each.
  std::vector<RemoveFailure> failures;
  try {
    failures = store.RemoveMany(doomed);
  } catch (const std::exception& e) {
    for (const std::string& name : doomed) failures.push_back({name, e.what()});
  }
  std::map<std::string, std::string, std::less<>> failed;
  for (RemoveFailure& f : failures) failed.emplace(f.name, std::move(f.error));
  for (const RetentionDecision& d : report.decisions) {
    if (d.keep || dry_run) continue;
    if (auto it = failed.find(d.name); it != failed.end()) {
      report.errors.push_back(d.name + ": " + it->second);
      continue;
    }
    report.removed.push_back(d.name);
    spdlog::info("retention: deleted {} from {}: {}", d.name, report.storage, d.reason);
  }
  if (options_.metrics != nullptr) {
    // Retention only ever removes ready snapshots.
    size_t ready = std::count_if(candidates.begin(), candidates.end(),
                                 [](const RetentionCandidate& c) { return c.ready; });
    options_.metrics->SetStoredSnapshots(
        report.storage, ready >= report.removed.size() ? ready - report.removed.size() : 0);
  }
  return report;
}

std::vector<PruneReport> SnapshotService::Prune(const std::string& prefix,
                                                const RetentionPolicy& policy, bool dry_run) {
  ValidateNamePrefix(prefix, "snapshot name prefix");
  std::vector<PruneReport> reports;
  for (SnapshotStore* store : stores_) {
    reports.push_back(PruneStore(*store, prefix, policy, dry_run));
  }
  return reports;
}

int SnapshotService::RemoveIncomplete() {
  int removed = 0;
  for (SnapshotStore* store : stores_) removed += RemoveIncompleteIn(*store);
  return removed;
}

int SnapshotService::RemoveIncompleteIn(SnapshotStore& store) noexcept {
  try {
    int n = store.RemoveIncomplete();
    if (n > 0) spdlog::info("removed {} leftover(s) of interrupted saves from {}", n, store.Kind());
    return n;
  } catch (const Error& e) {
    // Cut short by a shutdown: nothing went wrong with the store.
    if (e.kind() != ErrorKind::kCancelled) {
      spdlog::warn("cleanup of {} failed: {}", store.Kind(), e.what());
    }
  } catch (const std::exception& e) {
    spdlog::warn("cleanup of {} failed: {}", store.Kind(), e.what());
  }
  return 0;
}

void SnapshotService::RefreshStoredCounts() {
  if (options_.metrics == nullptr) return;
  std::vector<std::string> kinds;
  for (SnapshotStore* store : stores_) kinds.emplace_back(store->Kind());
  options_.metrics->UseStorages(kinds);
  // name -> (stores holding it ready, created_at), for this node's snapshots.
  std::map<std::string, std::pair<size_t, int64_t>> ready;
  bool all_listed = true;
  for (SnapshotStore* store : stores_) {
    auto records = RefreshStoredCount(*store);
    if (!records) {
      all_listed = false;
      continue;
    }
    for (const SnapshotRecord& r : *records) {
      if (r.status != "ready" || r.node != options_.node_name) continue;
      auto& [stores, created_at] = ready[r.name];
      ++stores;
      created_at = r.created_at;
    }
  }
  if (!all_listed) return;
  std::optional<int64_t> newest;
  for (const auto& [name, found] : ready) {
    if (found.first == stores_.size())
      newest = std::max(newest.value_or(found.second), found.second);
  }
  if (newest) options_.metrics->NoteEarlierSuccess(SystemTime(std::chrono::seconds(*newest)));
}

std::optional<std::vector<SnapshotRecord>> SnapshotService::RefreshStoredCount(
    SnapshotStore& store) {
  if (options_.metrics == nullptr) return std::nullopt;
  try {
    std::vector<SnapshotRecord> records = store.List();
    size_t ready = std::count_if(records.begin(), records.end(),
                                 [](const SnapshotRecord& r) { return r.status == "ready"; });
    options_.metrics->SetStoredSnapshots(std::string(store.Kind()), ready);
    return records;
  } catch (const std::exception& e) {
    spdlog::warn("cannot count the snapshots in {} for metrics: {}", store.Kind(), e.what());
    return std::nullopt;
  }
}

SnapshotStore* SnapshotService::StoreOfKind(std::string_view kind) {
  for (SnapshotStore* store : stores_) {
    if (store->Kind() == kind) return store;
  }
  return nullptr;
}

}  // namespace snapd
