// The scheduled save, and on servers of one etcd cluster sharing an S3 destination, who uploads
// each run: the server that wins the run's claim uploads it and runs S3 retention; the others
// keep their snapshot of it locally and upload it themselves only if the holder gives up.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "backup/snapshot_service.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/time_format.h"

namespace snapd {
namespace {

constexpr size_t kCopyChunk = 1 << 20;

}  // namespace

std::vector<SnapshotStore*> SnapshotService::SaveScheduled(
    JobContext& job, const std::vector<SnapshotStore*>& stores, std::string* name) {
  std::vector<SnapshotStore*> stored = SaveTo(options_.scheduled_prefix, job, true, stores, name);
  for (SnapshotStore* store : stored) PruneScheduled(*store);
  // Leftovers of interrupted saves are swept after a good scheduled save (and at start), not
  // before each save: a slow or unreachable S3 must not delay the local snapshot.
  RemoveIncomplete();
  return stored;
}

bool SnapshotService::PruneScheduled(SnapshotStore& store) {
  auto it = options_.scheduled_retention.find(store.Kind());
  if (it == options_.scheduled_retention.end()) return false;
  PruneReport report = PruneStore(store, options_.scheduled_prefix, it->second);
  for (const std::string& error : report.errors) {
    spdlog::warn("retention in {}: {}", report.storage, error);
  }
  return true;
}

void SnapshotService::ScheduledSave(JobContext& job, SystemTime fire) {
  UploadCoordinator* coordinator = options_.upload_coordinator;
  SnapshotStore* s3 = StoreOfKind("s3");
  std::string name;
  if (coordinator == nullptr || s3 == nullptr) {
    SaveScheduled(job, stores_, &name);
    return;
  }
  const int64_t fire_unix = UnixSeconds(fire);
  UploadCoordinator::Decision decision = coordinator->Decide(fire_unix);
  spdlog::info("scheduled run of {}: {}", FormatRfc3339(fire_unix), decision.reason);
  switch (decision.role) {
    case UploadCoordinator::Role::kLearner:
      return;
    case UploadCoordinator::Role::kAlone:
      SaveScheduled(job, stores_, &name);
      return;
    case UploadCoordinator::Role::kUploader: {
      if (options_.metrics != nullptr) options_.metrics->UploadClaim("won");
      std::vector<SnapshotStore*> stored;
      try {
        stored = SaveScheduled(job, stores_, &name);
      } catch (...) {
        // The claim goes with its lease as it is dropped: another server uploads the run.
        NoteUpload({fire_unix, options_.node_name, name, "failed"});
        throw;
      }
      decision.claim->MarkReady(name);
      NoteUpload({fire_unix, options_.node_name, name, "ready"});
      return;
    }
    case UploadCoordinator::Role::kFollower: {
      if (options_.metrics != nullptr) options_.metrics->UploadClaim("lost");
      std::vector<SnapshotStore*> local;
      std::copy_if(stores_.begin(), stores_.end(), std::back_inserter(local),
                   [s3](SnapshotStore* store) { return store != s3; });
      NoteUpload({fire_unix, decision.holder, "", "uploading"});
      if (SaveScheduled(job, local, &name).empty()) return;
      std::lock_guard lock(uploads_mutex_);
      pending_uploads_.push_back({fire_unix, name, decision.holder, clock_.Now()});
      return;
    }
  }
}

void SnapshotService::FollowPendingUploads(
    const std::function<bool(const PendingUpload&)>& start_takeover) {
  UploadCoordinator* coordinator = options_.upload_coordinator;
  if (coordinator == nullptr) return;
  std::vector<PendingUpload> pending;
  {
    std::lock_guard lock(uploads_mutex_);
    pending.swap(pending_uploads_);
  }
  std::vector<PendingUpload> still;
  for (PendingUpload& p : pending) {
    if (clock_.Now() - p.since > coordinator->options().ready_ttl) {
      spdlog::warn("scheduled run of {}: no longer watching {}'s upload of it",
                   FormatRfc3339(p.fire_unix), p.holder);
      continue;
    }
    std::optional<UploadClaim> claim;
    ClaimFollowUp follow_up = ClaimFollowUp::kWait;
    try {
      follow_up = coordinator->Check(p.fire_unix, &claim);
    } catch (const std::exception& e) {
      spdlog::warn("scheduled run of {}: cannot read its upload claim: {}",
                   FormatRfc3339(p.fire_unix), e.what());
    }
    if (follow_up == ClaimFollowUp::kDone) {
      NoteUpload({p.fire_unix, claim->node, claim->snapshot, "ready"});
      continue;
    }
    if (follow_up == ClaimFollowUp::kTakeOver) {
      spdlog::warn("scheduled run of {}: {} gave up its upload; uploading {} from here",
                   FormatRfc3339(p.fire_unix), p.holder, p.snapshot);
      if (start_takeover(p)) continue;
    } else if (claim) {
      p.holder = claim->node;
    }
    still.push_back(std::move(p));
  }
  std::lock_guard lock(uploads_mutex_);
  pending_uploads_.insert(pending_uploads_.end(), still.begin(), still.end());
}

void SnapshotService::TakeOverUpload(JobContext& job, const PendingUpload& pending) {
  UploadCoordinator* coordinator = options_.upload_coordinator;
  SnapshotStore* local = StoreOfKind("local");
  SnapshotStore* s3 = StoreOfKind("s3");
  if (coordinator == nullptr || local == nullptr || s3 == nullptr) return;
  job.SetSnapshot(pending.snapshot);
  std::string holder;
  std::unique_ptr<HeldClaim> claim = coordinator->TryClaim(pending.fire_unix, &holder);
  if (!claim) {
    spdlog::info("scheduled run of {}: {} claimed its upload first",
                 FormatRfc3339(pending.fire_unix), holder);
    PendingUpload again = pending;
    again.holder = holder;
    std::lock_guard lock(uploads_mutex_);
    pending_uploads_.push_back(std::move(again));
    return;
  }
  if (options_.metrics != nullptr) options_.metrics->UploadClaim("taken-over");
  try {
    CopyStored(pending.snapshot, *local, *s3, job);
  } catch (...) {
    NoteUpload({pending.fire_unix, options_.node_name, pending.snapshot, "failed"});
    throw;
  }
  claim->MarkReady(pending.snapshot);
  NoteUpload({pending.fire_unix, options_.node_name, pending.snapshot, "ready"});
  // Retention counts the store as it lists it; without retention, count it here.
  if (!PruneScheduled(*s3)) RefreshStoredCount(*s3);
}

void SnapshotService::CopyStored(const std::string& name, SnapshotStore& from, SnapshotStore& to,
                                 JobContext& job) {
  std::optional<SnapshotRecord> record;
  for (SnapshotRecord& r : from.List()) {
    if (r.name == name) record = std::move(r);
  }
  if (!record)
    throw Error::NotFound("snapshot " + name + " is not in the " + std::string(from.Kind()) +
                          " store any more");
  if (record->status != "ready") {
    throw Error::Permanent("snapshot " + name + " in " + std::string(from.Kind()) + " is " +
                           record->status + ", not ready");
  }
  std::unique_ptr<ByteSource> source = from.Open(name);
  std::unique_ptr<SnapshotWriter> writer = to.Create(name);
  writer->WatchCancel(job.cancel());
  try {
    if (record->token_backup) writer->SetTokenBackup(from.ReadTokenBackup(name));
    job.SetTotal(record->size);
    Sha256 hash;
    uint64_t size = 0;
    std::unique_ptr<char[]> buffer(new char[kCopyChunk]);
    while (size_t n = source->Read(buffer.get(), kCopyChunk)) {
      if (job.cancel() != nullptr && job.cancel()->load()) {
        throw Error::Cancelled("copy of " + name + ": cancelled");
      }
      std::string_view chunk(buffer.get(), n);
      hash.Update(chunk);
      writer->Write(chunk);
      size += n;
      job.AddBytes(n);
    }
    // Never pass on a copy that changed since it was recorded.
    if (size != record->size || DigestHex(hash.Finish()) != record->sha256) {
      throw Error::Corrupt("snapshot " + name + " in " + std::string(from.Kind()) +
                           " does not match its record");
    }
    SnapshotRecord committed = writer->Commit(*record);
    job.AddRecord(committed);
    spdlog::info("snapshot {} stored at {} ({} bytes, sha256 {})", name, committed.location,
                 committed.size, committed.sha256);
  } catch (...) {
    writer->Abort();
    throw;
  }
}

void SnapshotService::NoteUpload(ScheduledUploadStatus status) {
  std::lock_guard lock(uploads_mutex_);
  if (status.fire_unix >= last_upload_.fire_unix) last_upload_ = std::move(status);
}

ScheduledUploadStatus SnapshotService::LastScheduledUpload() const {
  std::lock_guard lock(uploads_mutex_);
  return last_upload_;
}

std::vector<PendingUpload> SnapshotService::PendingUploads() const {
  std::lock_guard lock(uploads_mutex_);
  return pending_uploads_;
}

}  // namespace snapd
