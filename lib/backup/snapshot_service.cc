// Save, list, delete and prune across the configured stores.
#include "backup/snapshot_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "snapshot/snapshot_integrity.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

int64_t UnixSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

struct SaveTarget {
  SnapshotStore* store;
  std::unique_ptr<SnapshotWriter> writer;
  std::string error;  // set once this store failed; its writer is then aborted
};

// Passes etcd's stream to the integrity check and every store still taking it.
class TeeSink final : public ByteSink {
 public:
  TeeSink(SnapshotIntegrity& integrity, std::vector<SaveTarget>& targets, JobContext& job)
      : integrity_(integrity), targets_(targets), job_(job) {}

  void Write(std::string_view chunk) override {
    integrity_.Write(chunk);
    bool any = false;
    for (SaveTarget& t : targets_) {
      if (!t.error.empty()) continue;
      try {
        t.writer->Write(chunk);
        any = true;
      } catch (const std::exception& e) {
        t.error = e.what();
        t.writer->Abort();
        spdlog::warn("{} store failed mid-snapshot: {}", t.store->Kind(), t.error);
      }
    }
    if (!any) throw Error::Permanent("no store is taking the snapshot any more");
    job_.AddBytes(chunk.size());
  }

 private:
  SnapshotIntegrity& integrity_;
  std::vector<SaveTarget>& targets_;
  JobContext& job_;
};

std::string JoinErrors(const std::vector<SaveTarget>& targets) {
  std::string text;
  for (const SaveTarget& t : targets) {
    if (t.error.empty()) continue;
    if (!text.empty()) text += "; ";
    text += std::string(t.store->Kind()) + ": " + t.error;
  }
  return text;
}

}  // namespace

SnapshotService::SnapshotService(SnapshotServiceOptions options, EtcdClient& etcd,
                                 std::vector<SnapshotStore*> stores, const Clock& clock)
    : options_(std::move(options)), etcd_(etcd), stores_(std::move(stores)), clock_(clock) {}

std::string SnapshotService::UniqueName(const std::string& prefix) {
  // Names carry whole seconds: two saves within one second would collide, so wait for the
  // next second rather than fail or overwrite.
  int64_t now = UnixSeconds(clock_.Now());
  while (now <= last_name_time_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = UnixSeconds(clock_.Now());
  }
  last_name_time_ = now;
  return FormatSnapshotName(prefix, options_.node_name, now);
}

void SnapshotService::Save(const std::string& prefix, JobContext& job) {
  SaveTo(prefix, job, false);
}

std::vector<SnapshotStore*> SnapshotService::SaveTo(const std::string& prefix, JobContext& job,
                                                    bool retention_follows) {
  ValidateNamePrefix(prefix, "snapshot name prefix");
  const auto started = std::chrono::steady_clock::now();
  SaveOutcome outcome;
  try {
    SaveStreaming(prefix, job, outcome);
  } catch (...) {
    RecordSave(outcome, false, std::chrono::steady_clock::now() - started, retention_follows);
    throw;
  }
  RecordSave(outcome, true, std::chrono::steady_clock::now() - started, retention_follows);
  return outcome.stored;
}

void SnapshotService::RecordSave(const SaveOutcome& outcome, bool succeeded,
                                 std::chrono::duration<double> took, bool retention_follows) {
  SnapshotMetrics* metrics = options_.metrics;
  if (metrics == nullptr) return;
  for (SnapshotStore* store : stores_) {
    bool stored =
        std::find(outcome.stored.begin(), outcome.stored.end(), store) != outcome.stored.end();
    metrics->StoreSaveResult(std::string(store->Kind()), stored);
  }
  if (succeeded) {
    metrics->SaveSucceeded(clock_.Now(), took, outcome.size);
  } else {
    metrics->SaveFailed(clock_.Now());
  }
  for (SnapshotStore* store : outcome.stored) {
    // Retention lists the store right after a successful scheduled save and counts it then.
    if (succeeded && retention_follows && options_.scheduled_retention.contains(store->Kind())) {
      continue;
    }
    RefreshStoredCount(*store);
  }
}

void SnapshotService::SaveStreaming(const std::string& prefix, JobContext& job,
                                    SaveOutcome& outcome) {
  // A name already taken (a snapshot made in the same second before a restart or reload)
  // moves the save to the next second rather than failing it.
  std::string name;
  std::vector<SaveTarget> targets;
  for (int attempt = 0;; ++attempt) {
    name = UniqueName(prefix);
    targets.clear();
    bool taken = false;
    for (SnapshotStore* store : stores_) {
      SaveTarget target{store, nullptr, ""};
      try {
        target.writer = store->Create(name);
      } catch (const Error& e) {
        target.error = e.what();
        taken = taken || e.kind() == ErrorKind::kConflict;
      } catch (const std::exception& e) {
        target.error = e.what();
      }
      targets.push_back(std::move(target));
    }
    if (!taken || attempt == 2) break;
    for (SaveTarget& t : targets) {
      if (t.writer) t.writer->Abort();
    }
  }
  job.SetSnapshot(name);
  const int64_t created_at = last_name_time_;
  spdlog::info("saving snapshot {}", name);
  if (std::all_of(targets.begin(), targets.end(), [](auto& t) { return !t.error.empty(); })) {
    throw Error::Permanent("snapshot " + name + ": no store can take it: " + JoinErrors(targets));
  }
  auto abort_all = [&] {
    for (SaveTarget& t : targets) {
      if (t.writer) t.writer->Abort();
    }
  };

  SnapshotIntegrity integrity;
  TeeSink tee(integrity, targets, job);
  SnapshotDigest digest;
  try {
    etcd_.Snapshot(tee, job.cancel(), [&job](uint64_t size) { job.SetTotal(size); });
    digest = integrity.Finish();
  } catch (const Error& e) {
    abort_all();
    throw e.WithContext("snapshot " + name);
  } catch (const std::exception& e) {
    abort_all();
    throw Error::Permanent("snapshot " + name + ": " + e.what());
  }

  SnapshotRecord record;
  record.name = name;
  record.node = options_.node_name;
  record.created_at = created_at;
  record.size = digest.size;
  record.sha256 = digest.sha256;
  record.token_hash = options_.token_hash ? options_.token_hash() : "";
  record.compressed = false;

  outcome.size = digest.size;
  std::vector<SnapshotStore*>& stored = outcome.stored;
  for (SaveTarget& t : targets) {
    if (!t.error.empty()) continue;
    try {
      SnapshotRecord committed = t.writer->Commit(record);
      job.AddRecord(committed);
      stored.push_back(t.store);
      spdlog::info("snapshot {} stored at {} ({} bytes, sha256 {})", name, committed.location,
                   committed.size, committed.sha256);
    } catch (const std::exception& e) {
      t.error = e.what();
      t.writer->Abort();
    }
  }
  std::string errors = JoinErrors(targets);
  if (stored.empty()) throw Error::Permanent("snapshot " + name + ": " + errors);
  if (!errors.empty()) {
    std::string kept;
    for (SnapshotStore* s : stored) kept += (kept.empty() ? "" : ", ") + std::string(s->Kind());
    throw Error::Transient("snapshot " + name + " kept in " + kept + " but not stored in " +
                           errors);
  }
}

void SnapshotService::ScheduledSave(JobContext& job) {
  std::vector<SnapshotStore*> stored = SaveTo(options_.scheduled_prefix, job, true);
  for (SnapshotStore* store : stored) {
    auto it = options_.scheduled_retention.find(store->Kind());
    if (it == options_.scheduled_retention.end()) continue;
    PruneReport report = PruneStore(*store, options_.scheduled_prefix, it->second);
    for (const std::string& error : report.errors) {
      spdlog::warn("retention in {}: {}", report.storage, error);
    }
  }
  // Leftovers of interrupted saves are swept after a good scheduled save (and at start), not
  // before each save: a slow or unreachable S3 must not delay the local snapshot.
  RemoveIncomplete();
}

SnapshotListing SnapshotService::List() {
  SnapshotListing listing;
  for (SnapshotStore* store : stores_) {
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

PruneReport SnapshotService::PruneStore(SnapshotStore& store, const std::string& prefix,
                                        int retention) {
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
  report.decisions = ApplyRetention(candidates, prefix, retention);
  for (const RetentionDecision& d : report.decisions) {
    if (d.keep) continue;
    try {
      store.Remove(d.name);
      report.removed.push_back(d.name);
      spdlog::info("retention: deleted {} from {}: {}", d.name, report.storage, d.reason);
    } catch (const std::exception& e) {
      report.errors.push_back(d.name + ": " + e.what());
    }
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

std::vector<PruneReport> SnapshotService::Prune(const std::string& prefix, int retention) {
  ValidateNamePrefix(prefix, "snapshot name prefix");
  std::vector<PruneReport> reports;
  for (SnapshotStore* store : stores_) reports.push_back(PruneStore(*store, prefix, retention));
  return reports;
}

int SnapshotService::RemoveIncomplete() {
  int removed = 0;
  for (SnapshotStore* store : stores_) {
    try {
      int n = store->RemoveIncomplete();
      if (n > 0)
        spdlog::info("removed {} leftover(s) of interrupted saves from {}", n, store->Kind());
      removed += n;
    } catch (const std::exception& e) {
      spdlog::warn("cleanup of {} failed: {}", store->Kind(), e.what());
    }
  }
  return removed;
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

}  // namespace snapd
