// The save use case: one pass from the datastore's stream into every store's writer, committed
// only once the whole stream passed its checks; and the scheduled save with its retention.
#include "backup/snapshot_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "backup/content_proof.h"
#include "core/digest.h"
#include "core/error.h"
#include "pipeline/age_encrypt_sink.h"
#include "pipeline/zip_compress_sink.h"
#include "pipeline/zstd_compress_sink.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

struct SaveTarget {
  SnapshotStore* store;
  std::unique_ptr<SnapshotWriter> writer;
  std::string error;  // set once this store failed; its writer is then aborted
};

// Passes the datastore's checked stream on to the encoders (or straight to the stores),
// counting progress.
class ProgressStage final : public ByteSink {
 public:
  ProgressStage(ByteSink& next, JobContext& job) : next_(next), job_(job) {}

  void Write(std::string_view chunk) override {
    next_.Write(chunk);
    job_.AddBytes(chunk.size());
  }

 private:
  ByteSink& next_;
  JobContext& job_;
};

// Passes the stored bytes (encoded, if encoding) to every store still taking them, hashing
// them for the record.
class TeeSink final : public ByteSink {
 public:
  // `hashed`: hash what passes; without encoders the stored bytes are the snapshot itself,
  // whose digest the datastore already computes.
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

// Proves the snapshot's contents against etcd (ProveEtcdSnapshot) and notes the outcome in
// `record`; throws Error::Corrupt when they differ.
void ProveContent(EtcdCoordinationClient& etcd, std::vector<SaveTarget>& targets,
                  ScratchSnapshotCopy* scratch, std::string unproven, SnapshotRecord& record) {
  std::string path;
  if (scratch != nullptr) {
    path = scratch->Finish();
    if (path.empty()) unproven = "the copy to check could not be written: " + scratch->error();
  } else if (unproven.empty()) {
    for (SaveTarget& t : targets) {
      if (!t.error.empty() || t.store->Kind() != "local") continue;
      try {
        path = t.writer->FlushForReading();
      } catch (const std::exception& e) {
        t.error = e.what();
        continue;
      }
      if (!path.empty()) break;
    }
    if (path.empty()) unproven = "no plain copy to check was kept";
  }
  record.content_checked = true;
  if (path.empty()) {
    record.content_check = unproven;
    spdlog::warn("snapshot contents not verified: {}", unproven);
    return;
  }
  const auto started = std::chrono::steady_clock::now();
  ContentProof proof = ProveEtcdSnapshot(path, etcd);  // throws on mismatch
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  record.content_verified = proof.verified;
  record.content_check = proof.reason;
  if (proof.hash) {
    record.hash_kv = proof.hash->hash;
    record.hash_kv_revision = static_cast<uint64_t>(proof.hash->revision);
    record.hash_kv_compact_revision =
        static_cast<uint64_t>(std::max<int64_t>(0, proof.hash->compact_revision));
    // etcd's snapshot stream does not say its revision; the file does (increments start there).
    if (record.revision == 0) record.revision = record.hash_kv_revision;
    if (record.compact_revision == 0) record.compact_revision = record.hash_kv_compact_revision;
  }
  if (proof.verified) {
    spdlog::info("snapshot contents verified: HashKV {} at revision {} equals etcd's ({:.2f} s)",
                 record.hash_kv, record.hash_kv_revision, took.count());
  } else {
    spdlog::warn("snapshot contents not verified: {}", proof.reason);
  }
}

}  // namespace

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
  SaveTo(prefix, job, false, stores_);
}

std::vector<SnapshotStore*> SnapshotService::SaveTo(const std::string& prefix, JobContext& job,
                                                    bool retention_follows,
                                                    const std::vector<SnapshotStore*>& stores,
                                                    std::string* name) {
  ValidateNamePrefix(prefix, "snapshot name prefix");
  const auto started = std::chrono::steady_clock::now();
  SaveOutcome outcome;
  outcome.targets = stores;
  try {
    SaveStreaming(prefix, job, outcome);
  } catch (...) {
    if (name != nullptr) *name = outcome.name;
    RecordSave(outcome, false, std::chrono::steady_clock::now() - started, retention_follows);
    throw;
  }
  RecordSave(outcome, true, std::chrono::steady_clock::now() - started, retention_follows);
  if (name != nullptr) *name = outcome.name;
  return outcome.stored;
}

void SnapshotService::RecordSave(const SaveOutcome& outcome, bool succeeded,
                                 std::chrono::duration<double> took, bool retention_follows) {
  SnapshotMetrics* metrics = options_.metrics;
  if (metrics == nullptr) return;
  for (SnapshotStore* store : outcome.targets) {
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
    for (SnapshotStore* store : outcome.targets) {
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
  outcome.name = name;
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

  const bool encoded = encoding.encrypted || encoding.compression != Compression::kNone;
  TeeSink tee(targets, encoded);
  // The proof reads the plain snapshot from the local store's file when it is written plain;
  // otherwise from a private copy made as the stream passes.
  const bool prove = options_.content_proof != nullptr && datastore_.Kind() == "etcd";
  const bool local_plain = !encoded && std::any_of(targets.begin(), targets.end(), [](auto& t) {
    return t.error.empty() && t.store->Kind() == "local";
  });
  std::unique_ptr<ScratchSnapshotCopy> scratch;
  std::string unproven;  // why no proof was tried
  if (prove && local_plain) {
    for (SaveTarget& t : targets) {
      if (t.writer && t.error.empty() && t.store->Kind() == "local")
        t.writer->KeepCachedUntilCommit();
    }
  }
  // Encoders in the order a restore undoes them: compress, then encrypt.
  std::unique_ptr<EncodingSink> encrypt;
  std::unique_ptr<EncodingSink> compress;
  ByteSink* next = &tee;
  SnapshotDigest digest;
  SnapshotDigest snapshot;
  DatastoreSnapshot copy;
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
    if (prove && !local_plain) {
      if (options_.scratch_dir.empty()) {
        unproven = "no state directory to check an encoded or remote-only snapshot in";
      } else {
        scratch = std::make_unique<ScratchSnapshotCopy>(
            *next, options_.scratch_dir + "/proof-" + std::string(BaseSnapshotName(name)));
        next = scratch.get();
      }
    }
    ProgressStage stage(*next, job);
    copy = datastore_.Snapshot(stage, job.cancel(), [&job](uint64_t size) { job.SetTotal(size); });
    snapshot = copy.digest;
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
  if (prove) {
    try {
      ProveContent(*options_.content_proof, targets, scratch.get(), unproven, record);
    } catch (const Error& e) {
      abort_all();
      throw e.WithContext("snapshot " + name);
    }
    scratch.reset();
  }
  record.name = name;
  record.node = options_.node_name;
  record.created_at = created_at;
  record.size = digest.size;
  record.sha256 = digest.sha256;
  record.token_hash = options_.token_hash ? options_.token_hash() : "";
  record.token_backup = false;
  record.datastore = std::string(datastore_.Kind());
  // SQLite's copy knows its revisions; an etcd stream does not (the proof read them above).
  if (copy.revision != 0) record.revision = copy.revision;
  if (copy.compact_revision != 0) record.compact_revision = copy.compact_revision;
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
  if (options_.on_saved) options_.on_saved(record, stored);
  if (!errors.empty()) {
    std::string kept;
    for (SnapshotStore* s : stored) kept += (kept.empty() ? "" : ", ") + std::string(s->Kind());
    throw Error::Transient("snapshot " + name + " kept in " + kept + " but not stored in " +
                           errors);
  }
}

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

}  // namespace snapd
