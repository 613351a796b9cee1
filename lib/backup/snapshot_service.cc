// Save, list, delete and prune across the configured stores.
#include "backup/snapshot_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>

#include "core/digest.h"
#include "core/error.h"
#include "core/file_descriptor.h"
#include "pipeline/age_decrypt_source.h"
#include "pipeline/age_encrypt_sink.h"
#include "pipeline/zip_compress_sink.h"
#include "pipeline/zstd_compress_sink.h"
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

// Passes etcd's stream to the integrity check and on to the encoders (or straight to the
// stores), counting progress.
class SnapshotStage final : public ByteSink {
 public:
  SnapshotStage(SnapshotIntegrity& integrity, ByteSink& next, JobContext& job)
      : integrity_(integrity), next_(next), job_(job) {}

  void Write(std::string_view chunk) override {
    integrity_.Write(chunk);
    next_.Write(chunk);
    job_.AddBytes(chunk.size());
  }

 private:
  SnapshotIntegrity& integrity_;
  ByteSink& next_;
  JobContext& job_;
};

// Passes the stored bytes (encoded, if encoding) to every store still taking them, hashing
// them for the record.
class TeeSink final : public ByteSink {
 public:
  // `hashed`: hash what passes; without encoders the stored bytes are the snapshot itself,
  // whose digest the integrity check already computes.
  TeeSink(std::vector<SaveTarget>& targets, bool hashed) : targets_(targets), hashed_(hashed) {}

  void Write(std::string_view chunk) override {
    if (hashed_) hash_.Update(chunk);
    size_ += chunk.size();
    bool any = false;
    for (SaveTarget& t : targets_) {
      if (!t.error.empty()) continue;
      try {
        t.writer->Write(chunk);
        any = true;
      } catch (const std::exception& e) {
        // Aborted once the other stores committed: cleaning up a failed upload must not hold
        // up the local copy.
        t.error = e.what();
        spdlog::warn("{} store failed mid-snapshot: {}", t.store->Kind(), t.error);
      }
    }
    if (!any) throw Error::Permanent("no store is taking the snapshot any more");
  }

  SnapshotDigest Finish() { return {size_, DigestHex(hash_.Finish())}; }

 private:
  std::vector<SaveTarget>& targets_;
  bool hashed_;
  Sha256 hash_;
  uint64_t size_ = 0;
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
  const SnapshotEncoding encoding{options_.compression, !options_.recipients.empty()};
  for (int attempt = 0;; ++attempt) {
    name = EncodedSnapshotName(UniqueName(prefix), encoding);
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
  for (SaveTarget& t : targets) {
    if (t.writer) t.writer->WatchCancel(job.cancel());
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
  const bool encoded = encoding.encrypted || encoding.compression != Compression::kNone;
  TeeSink tee(targets, encoded);
  // Encoders in the order a restore undoes them: compress, then encrypt.
  std::unique_ptr<EncodingSink> encrypt;
  std::unique_ptr<EncodingSink> compress;
  ByteSink* next = &tee;
  SnapshotDigest digest;
  SnapshotDigest snapshot;
  try {
    if (encoding.encrypted) {
      encrypt = std::make_unique<AgeEncryptSink>(*next, options_.recipients);
      next = encrypt.get();
    }
    if (encoding.compression == Compression::kZip) {
      compress =
          std::make_unique<ZipCompressSink>(*next, std::string(BaseSnapshotName(name)), created_at);
    } else if (encoding.compression == Compression::kZstd) {
      compress = std::make_unique<ZstdCompressSink>(*next, options_.zstd_level);
    }
    if (compress) next = compress.get();
    SnapshotStage stage(integrity, *next, job);
    etcd_.Snapshot(stage, job.cancel(), [&job](uint64_t size) { job.SetTotal(size); });
    snapshot = integrity.Finish();
    if (compress) compress->Finish();
    if (encrypt) encrypt->Finish();
    digest = encoded ? tee.Finish() : snapshot;
    if (encoding.encrypted) {
      if (std::string sealed = SealedToken(name); !sealed.empty()) {
        for (SaveTarget& t : targets) {
          if (t.writer && t.error.empty()) t.writer->SetTokenBackup(sealed);
        }
      }
    }
  } catch (const Error& e) {
    abort_all();
    // Every store failed mid-stream (a full disk, S3 gone): their errors say why, not the
    // etcd stream that carried their failure out.
    if (std::all_of(targets.begin(), targets.end(), [](auto& t) { return !t.error.empty(); })) {
      throw Error::Permanent("snapshot " + name + ": " + JoinErrors(targets));
    }
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
  record.token_backup = false;
  SetEncodingFromName(record);

  outcome.size = snapshot.size;
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
  for (SaveTarget& t : targets) {
    if (t.writer && !t.error.empty()) t.writer->Abort();
  }
  if (job.cancel() != nullptr && job.cancel()->load() && !stored.empty() &&
      stored.size() < targets.size()) {
    // Cancelled while S3 was still finishing after the local copy was committed: a cancelled
    // save leaves nothing, as one cancelled earlier does.
    for (SnapshotStore* store : stored) {
      try {
        store->Remove(name);
      } catch (const std::exception& e) {
        spdlog::warn("cancelled save: cannot remove {} from {}: {}", name, store->Kind(), e.what());
      }
    }
    stored.clear();
    throw Error::Cancelled("snapshot " + name + ": cancelled");
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

}  // namespace snapd

namespace snapd {
namespace {

// Writes a staged file: `.part`, fsync, rename over an older staged file of the same name.
class StagedFile final : public ByteSink {
 public:
  explicit StagedFile(std::string path) : path_(std::move(path)), part_(path_ + ".part") {
    ::unlink(part_.c_str());
    fd_.Reset(::open(part_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd_.get() < 0) ThrowSystemError("create " + part_, errno);
  }
  ~StagedFile() override {
    fd_.Reset();
    if (!done_) ::unlink(part_.c_str());
  }

  void Write(std::string_view chunk) override { WriteAll(fd_.get(), chunk, part_); }

  void Commit() {
    if (::fsync(fd_.get()) != 0) ThrowSystemError("fsync " + part_, errno);
    fd_.Close(part_);
    if (::rename(part_.c_str(), path_.c_str()) != 0) ThrowSystemError("rename " + part_, errno);
    done_ = true;
  }

 private:
  std::string path_;
  std::string part_;
  FileDescriptor fd_;
  bool done_ = false;
};

void MakePrivateDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    ThrowSystemError("create directory " + dir, errno);
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) ThrowSystemError("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) throw Error::InvalidInput(dir + " is not a directory");
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    ThrowSystemError("chmod " + dir, errno);
  }
}

// Staged files hold decrypted snapshots and tokens; snapctl removes them after a restore, but
// one killed midway cannot. Anything staged over an hour ago is no longer in use.
void RemoveStaleStagedFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  const time_t now = ::time(nullptr);
  while (dirent* entry = ::readdir(d)) {
    struct stat st;
    if (::fstatat(::dirfd(d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) || now - st.st_mtime < 3600) continue;
    if (::unlinkat(::dirfd(d), entry->d_name, 0) == 0) {
      spdlog::info("restore: removed {}/{}, staged over an hour ago", dir, entry->d_name);
    }
  }
}

}  // namespace

std::string SnapshotService::SealedToken(const std::string& name) {
  if (!options_.token) return "";
  std::string token;
  try {
    token = options_.token();
  } catch (const std::exception& e) {
    spdlog::warn("snapshot {}: the server token is not saved with it: {}", name, e.what());
    return "";
  }
  return token.empty() ? "" : AgeEncrypt(token, options_.recipients);
}

SnapshotStore* SnapshotService::StoreOfKind(std::string_view kind) {
  for (SnapshotStore* store : stores_) {
    if (store->Kind() == kind) return store;
  }
  return nullptr;
}

VerifyReport SnapshotService::VerifyCopy(const SnapshotRecord& record, JobContext& job) {
  VerifyReport report;
  report.record = record;
  const std::string where = record.storage + " " + record.name;
  if (record.status != "ready") {
    report.error = where + ": the save failed: " + record.error;
    return report;
  }
  SnapshotStore* store = StoreOfKind(record.storage);
  try {
    if (store == nullptr) throw Error::NotFound("no " + record.storage + " store is configured");
    std::unique_ptr<ByteSource> source = store->Open(record.name);
    ReadProgress progress{job.cancel(), [&job](uint64_t n) { job.AddBytes(n); }};
    DecodedSnapshot decoded =
        ReadStoredSnapshot(*source, record, options_.identities, nullptr, progress);
    report.ok = true;
    report.snapshot_size = decoded.snapshot.size;
    spdlog::info("verified {} at {}: {} bytes stored, {} bytes of etcd snapshot", record.name,
                 record.location, decoded.stored_size, decoded.snapshot.size);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kCancelled) throw;
    report.error = where + ": " + e.what();
    spdlog::warn("verify failed: {}", report.error);
  } catch (const std::exception& e) {
    report.error = where + ": " + e.what();
    spdlog::warn("verify failed: {}", report.error);
  }
  return report;
}

std::vector<VerifyReport> SnapshotService::Verify(const std::string& name, JobContext& job) {
  if (!name.empty()) ValidateSnapshotName(name);
  SnapshotListing listing = List();
  std::vector<SnapshotRecord> copies;
  uint64_t total = 0;
  for (const SnapshotRecord& r : listing.records) {
    if (!name.empty() && r.name != name) continue;
    copies.push_back(r);
    total += r.size;
  }
  if (copies.empty()) {
    std::string message =
        name.empty() ? "no snapshots to verify" : "snapshot " + name + " not found";
    for (const StoreError& e : listing.errors) message += "; " + e.storage + ": " + e.message;
    throw Error::NotFound(message);
  }
  if (!name.empty()) job.SetSnapshot(name);
  job.SetTotal(total);
  std::vector<VerifyReport> reports;
  for (const SnapshotRecord& r : copies) reports.push_back(VerifyCopy(r, job));
  // A store that cannot be listed may hold copies nobody checked: that is a failed verify.
  for (const StoreError& e : listing.errors) {
    VerifyReport unlisted;
    unlisted.record.name = name;
    unlisted.record.storage = e.storage;
    unlisted.error = e.storage + ": cannot list: " + e.message;
    reports.push_back(unlisted);
  }
  return reports;
}

StagedSnapshot SnapshotService::Stage(const std::string& name, const std::string& storage,
                                      const std::string& dir, bool with_token, JobContext& job) {
  ValidateSnapshotName(name);
  job.SetSnapshot(name);
  if (!storage.empty() && storage != "local" && storage != "s3") {
    throw Error::InvalidInput("storage \"" + storage + "\": expected local or s3");
  }
  SnapshotListing listing = List();
  std::optional<SnapshotRecord> chosen;
  std::vector<std::string> held;
  for (const SnapshotRecord& r : listing.records) {
    if (r.name != name) continue;
    held.push_back(r.storage);
    if (!storage.empty() && r.storage != storage) continue;
    if (!chosen || (chosen->storage != "local" && r.storage == "local")) chosen = r;
  }
  if (!chosen) {
    std::string message = "snapshot " + name + " not found";
    if (!storage.empty() && !held.empty())
      message += " in " + storage + " (it is in " + held[0] + ")";
    for (const StoreError& e : listing.errors) message += "; " + e.storage + ": " + e.message;
    throw Error::NotFound(message);
  }
  const SnapshotRecord record = *chosen;
  if (record.status != "ready") {
    throw Error::Corrupt(record.storage + " " + name + ": the save failed: " + record.error);
  }
  SnapshotStore* store = StoreOfKind(record.storage);
  if (store == nullptr) throw Error::NotFound("no " + record.storage + " store is configured");

  MakePrivateDir(dir);
  RemoveStaleStagedFiles(dir);
  StagedSnapshot staged;
  staged.record = record;
  staged.path = dir + "/" + std::string(BaseSnapshotName(name));
  job.SetTotal(record.size);
  spdlog::info("restore: fetching, decoding and verifying {} from {} into {}", name,
               record.location, staged.path);
  try {
    StagedFile file(staged.path);
    std::unique_ptr<ByteSource> source = store->Open(name);
    ReadProgress progress{job.cancel(), [&job](uint64_t n) { job.AddBytes(n); }};
    DecodedSnapshot decoded =
        ReadStoredSnapshot(*source, record, options_.identities, &file, progress);
    file.Commit();
    staged.size = decoded.snapshot.size;
  } catch (const Error& e) {
    ::unlink(staged.path.c_str());
    throw e.WithContext(record.storage + " " + name);
  }
  if (with_token) {
    try {
      if (!record.token_backup) {
        throw Error::NotFound(
            "no server token was saved with it (only encrypted snapshots "
            "carry one)");
      }
      if (!options_.identities) {
        throw Error::InvalidInput(
            "set etcd-snapshot-encryption-identity-file to decrypt the saved token");
      }
      const std::string token = AgeDecrypt(store->ReadTokenBackup(name), options_.identities());
      staged.token_path = staged.path + ".token";
      StagedFile file(staged.token_path);
      file.Write(token);
      file.Commit();
    } catch (const Error& e) {
      ::unlink(staged.path.c_str());
      throw e.WithContext(record.storage + " " + name + ": saved token");
    }
  }
  spdlog::info("restore: staged {} ({} bytes, trailer verified)", staged.path, staged.size);
  return staged;
}

}  // namespace snapd
