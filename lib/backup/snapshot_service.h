// The use cases behind the control API: save a snapshot of the datastore (etcd or SQLite) into
// every configured store, list, delete, prune, verify and stage. Saves are one pass: the
// datastore's stream is checked and written to every store's writer as it arrives, and
// committed only once the whole of it passed its checks.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backup/job_runner.h"
#include "backup/snapshot_reader.h"
#include "coordination/upload_coordinator.h"
#include "core/clock.h"
#include "datastore/datastore.h"
#include "incremental/increment_chain.h"
#include "incremental/point_in_time.h"
#include "metrics/snapshot_metrics.h"
#include "pipeline/age_keys.h"
#include "retention/retention_policy.h"
#include "snapshot/snapshot_name.h"
#include "store/snapshot_store.h"

namespace snapd {

struct SnapshotServiceOptions {
  std::string node_name;
  std::string scheduled_prefix = "etcd-snapshot";
  // What retention keeps of the scheduled snapshots in each store, by store kind ("local",
  // "s3"); a kind not in the map keeps all, as does a policy with every rule off (as k3s).
  std::map<std::string, RetentionPolicy, std::less<>> scheduled_retention;
  // The wall clock calendar retention reads snapshot times on (the schedule's CRON_TZ); null
  // is UTC.
  CivilTimeOf retention_clock;
  // The current k3s token hash; called at each save (the token can change). "" when unknown.
  std::function<std::string()> token_hash;
  // Where saves, deletes and prunes are recorded; null records nothing. Must outlive the
  // service.
  SnapshotMetrics* metrics = nullptr;
  // How saved snapshots are compressed; zstd at this level.
  Compression compression = Compression::kNone;
  int zstd_level = 3;
  // Saved snapshots are age-encrypted to these recipients; empty = not encrypted.
  std::vector<AgeRecipient> recipients;
  // The server token, saved encrypted beside each snapshot when encrypting; "" when unknown.
  // Throws naming why it cannot be read.
  std::function<std::string()> token;
  // The identities verify and restore decrypt with; null when none are configured.
  IdentitySupplier identities;
  // A private directory where verify decodes a SQLite snapshot to check it (the daemon's
  // state-dir); "" fails such a verify.
  std::string scratch_dir;
  // Set on a server of an etcd cluster with etcd-s3-upload-by one-server: which server uploads
  // each scheduled run to S3. Null: every server uploads its own (k3s's way). Must outlive the
  // service.
  UploadCoordinator* upload_coordinator = nullptr;
  // The etcd whose HashKV proves each etcd snapshot's contents before it is committed (a
  // mismatch fails the save); null: no proof. Must outlive the service.
  EtcdCoordinationClient* content_proof = nullptr;
  // Called after a save stored its snapshot in at least one store, with its record and those
  // stores (before retention runs): the increment recorder starts its next chain from it.
  std::function<void(const SnapshotRecord&, const std::vector<SnapshotStore*>&)> on_saved;
};

// A scheduled run whose upload another server claimed: this server's snapshot of it stays
// local, ready to be uploaded if that server gives up.
struct PendingUpload {
  int64_t fire_unix = 0;
  std::string snapshot;  // this server's copy of the run, in the local store
  std::string holder;    // the server holding the claim when last seen
  SystemTime since;
};

// Who uploaded the newest scheduled run, as this server knows it.
struct ScheduledUploadStatus {
  int64_t fire_unix = 0;  // 0: no run coordinated yet
  std::string node;
  std::string snapshot;  // "" while uploading
  std::string state;     // "ready", "uploading" or "failed"
};

// The outcome of verifying one stored copy of a snapshot.
struct VerifyReport {
  SnapshotRecord record;
  bool ok = false;
  std::string error;           // what failed, when !ok
  uint64_t snapshot_size = 0;  // of the decoded snapshot (etcd's or SQLite's), when ok
};

// A snapshot decoded and verified into a file for a restore.
struct StagedSnapshot {
  SnapshotRecord record;   // the copy it came from
  std::string path;        // the plain snapshot (etcd's, or a SQLite database), 0600
  std::string token_path;  // the saved server token, 0600; "" unless asked for
  uint64_t size = 0;
};

// A restore to a moment: the base (named, or the newest at or before the target) staged and its
// chain replayed up to the target by BuildPointInTime.
struct PointInTimeRequest {
  std::string name;     // the base; "" = the newest ready etcd snapshot at or before the target
  std::string storage;  // "" = local when it holds a fitting base, else S3
  ReplayTarget target;
  std::string dir;  // where the point-in-time snapshot is staged (as Stage's `dir`)
  bool with_token = false;
  std::string work_dir;  // private scratch of the throwaway etcd (in state-dir)
  std::string etcd_binary = "etcd";
  // Extends a window read from the names with what the live recorder knows (an idle chain is
  // complete past its last increment); null: the names alone.
  std::function<void(ChainWindow& window, const std::string& storage)> extend_window;
};

struct PointInTimeStaged {
  StagedSnapshot staged;  // the point-in-time snapshot; record is the base's
  ChainWindow window;     // the base's window as read
  PointInTimeResult result;
};

// What a store could not do, for `ls` and status: the other stores' answers still count.
struct StoreError {
  std::string storage;
  std::string message;
};

struct SnapshotListing {
  std::vector<SnapshotRecord> records;  // newest first
  std::vector<StoreError> errors;       // stores that could not be listed
};

// What DeleteMany did with one name: the stores it was removed from, and what failed.
struct DeleteOutcome {
  std::string name;
  std::vector<std::string> deleted_from;
  std::string error;  // "" when every store holding it removed it; "not found" when none had it
};

struct PruneReport {
  std::string storage;
  std::vector<RetentionDecision> decisions;
  std::vector<std::string> removed;
  std::vector<std::string> errors;
};

class SnapshotService {
 public:
  SnapshotService(SnapshotServiceOptions options, Datastore& datastore,
                  std::vector<SnapshotStore*> stores, const Clock& clock);

  // Saves `<prefix>-<node>-<unix>` from the datastore into every store. Throws when the snapshot
  // could not be saved anywhere or failed its integrity check (nothing is then left of it); when it
  // reached some stores but not all, the stored copies stay and it throws naming the failures.
  void Save(const std::string& prefix, JobContext& job);
  // A scheduled save: Save with the scheduled prefix, then retention of that prefix in every
  // store that took the snapshot. Retention never runs after a failed save. With an upload
  // coordinator, the run at `fire` (its cron time) goes to S3 only from the server that claims
  // it; the others keep theirs locally as a PendingUpload. A learner takes none.
  void ScheduledSave(JobContext& job, SystemTime fire);
  void ScheduledSave(JobContext& job) { ScheduledSave(job, clock_.Now()); }
  // Looks at the claim of every pending upload: done ones are dropped, and for one whose holder
  // gave up, `start_takeover` is asked to run TakeOverUpload as a job (it returns false when it
  // cannot start it now: it is asked again next time).
  void FollowPendingUploads(const std::function<bool(const PendingUpload&)>& start_takeover);
  // Claims the pending run and, when won, uploads this server's snapshot of it from the local
  // store to S3, then S3 retention; when another server claimed it first, it is pending again.
  void TakeOverUpload(JobContext& job, const PendingUpload& pending);
  ScheduledUploadStatus LastScheduledUpload() const;
  std::vector<PendingUpload> PendingUploads() const;

  // Every store's snapshots (or only those of the store of kind `storage`), newest first; a
  // store that cannot be listed is named in errors.
  SnapshotListing List(std::string_view storage = "");
  // Deletes `name` from every store holding it; returns the storage kinds it was removed from.
  // kNotFound if no store had it; when a store failed, throws naming it (after removing from
  // the others).
  std::vector<std::string> Delete(const std::string& name);
  // Deletes each of `names` from every store holding it, each store listed once and asked to
  // remove them all at once (S3: DeleteObjects). One outcome per distinct name, in order.
  std::vector<DeleteOutcome> DeleteMany(const std::vector<std::string>& names);
  // Applies `policy` to the ready snapshots of `prefix` in each store; a dry run deletes
  // nothing, its reports' decisions saying what would go.
  std::vector<PruneReport> Prune(const std::string& prefix, const RetentionPolicy& policy,
                                 bool dry_run = false);
  PruneReport PruneStore(SnapshotStore& store, const std::string& prefix,
                         const RetentionPolicy& policy, bool dry_run = false);
  // Removes leftovers of interrupted saves in every store; returns how many.
  int RemoveIncomplete();
  // The same in one store; a failure is logged, not thrown (the next sweep tries again).
  static int RemoveIncompleteIn(SnapshotStore& store) noexcept;

  // Reads back every stored copy of `name` (or, with an empty name, of every listed snapshot)
  // and checks it; one report per copy. kNotFound when no store holds `name`.
  std::vector<VerifyReport> Verify(const std::string& name, JobContext& job);
  // The record of ready snapshot `name` in `storage` ("" = local when it is there, else S3).
  // kNotFound when no such store holds it; kCorrupt when that copy's save failed.
  SnapshotRecord FindReady(const std::string& name, const std::string& storage);
  // Decodes and verifies `name` from `storage` ("" = local when it is there, else S3) into
  // `dir`/<name without suffixes>, replacing an older staged file. With `with_token`, also
  // decrypts its saved server token into `dir`/<name>.token. Nothing is left in `dir` when
  // it fails.
  StagedSnapshot Stage(const std::string& name, const std::string& storage, const std::string& dir,
                       bool with_token, JobContext& job);
  // Builds the snapshot of `request.target` from a base and its increments (see
  // BuildPointInTime) and stages it as Stage does. InvalidInput naming the window when the
  // target is outside it; kNotFound when no base fits.
  PointInTimeStaged StagePointInTime(const PointInTimeRequest& request, JobContext& job);
  // The recoverable window of each of `records` that has increments, keyed by storage and name.
  // A store whose increments cannot be listed adds none (its error is logged).
  std::map<std::pair<std::string, std::string>, ChainWindow> RecoverableWindows(
      const std::vector<SnapshotRecord>& records);
  // Lists every store to set its ready-snapshot count in the metrics (nothing without
  // metrics); a store that cannot be listed keeps its last count. Also raises the last
  // success time to the newest snapshot of this node ready in every store. For the start:
  // saves, deletes and prunes keep the counts current themselves.
  void RefreshStoredCounts();

 private:
  std::string UniqueName(const std::string& prefix);
  struct SaveOutcome {
    std::vector<SnapshotStore*> targets;  // the stores the save was for
    std::vector<SnapshotStore*> stored;   // those that took the snapshot
    std::string name;                     // once chosen
    uint64_t size = 0;
  };
  // Saves and records the save in the metrics; returns the stores that took the snapshot.
  // `retention_follows`: the caller prunes the scheduled prefix next, which counts the store.
  std::vector<SnapshotStore*> SaveTo(const std::string& prefix, JobContext& job,
                                     bool retention_follows,
                                     const std::vector<SnapshotStore*>& stores,
                                     std::string* name = nullptr);
  // A scheduled save into `stores` and the scheduled retention in those that took it; returns
  // them, and the snapshot's name in `name`.
  std::vector<SnapshotStore*> SaveScheduled(JobContext& job,
                                            const std::vector<SnapshotStore*>& stores,
                                            std::string* name);
  // The scheduled retention of `store`, when it has one (then it also counts the store in the
  // metrics); false when it has none.
  bool PruneScheduled(SnapshotStore& store);
  // Copies the ready snapshot `name` (with its record and token backup) from one store to
  // another, checking its SHA-256 against the record as it passes.
  void CopyStored(const std::string& name, SnapshotStore& from, SnapshotStore& to, JobContext& job);
  void NoteUpload(ScheduledUploadStatus status);
  // The save itself; fills `outcome` as it goes, so a failure still says what was stored.
  void SaveStreaming(const std::string& prefix, JobContext& job, SaveOutcome& outcome);
  void RecordSave(const SaveOutcome& outcome, bool succeeded, std::chrono::duration<double> took,
                  bool retention_follows);
  // The server token encrypted to the recipients, to keep beside an encrypted snapshot (k3s
  // encrypts its bootstrap data with the token: a restore needs it); "" when unknown.
  std::string SealedToken(const std::string& name);
  VerifyReport VerifyCopy(const SnapshotRecord& record, JobContext& job);
  SnapshotStore* StoreOfKind(std::string_view kind);
  // Lists `store` and sets its count; nullopt (and a warning) when it cannot be listed.
  std::optional<std::vector<SnapshotRecord>> RefreshStoredCount(SnapshotStore& store);

  SnapshotServiceOptions options_;
  Datastore& datastore_;
  std::vector<SnapshotStore*> stores_;
  const Clock& clock_;
  int64_t last_name_time_ = 0;
  mutable std::mutex uploads_mutex_;
  std::vector<PendingUpload> pending_uploads_;  // guarded by uploads_mutex_
  ScheduledUploadStatus last_upload_;           // guarded by uploads_mutex_
};

}  // namespace snapd
