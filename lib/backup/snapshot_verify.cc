// The read-back use cases: verify every stored copy of a snapshot, and stage one decoded and
// verified into a private file for a restore.
#include "backup/snapshot_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include "core/error.h"
#include "core/file_descriptor.h"
#include "datastore/sqlite_copy.h"
#include "pipeline/age_decrypt_source.h"
#include "snapshot/snapshot_name.h"

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
  // What was written so far, readable by others before (or without) Commit.
  const std::string& part_path() const { return part_; }

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

// A decoded SQLite snapshot passes SQLite's integrity check, has kine's table and holds the
// revision its record says it was copied at.
void CheckKineRevision(const std::string& path, const SnapshotRecord& record,
                       const std::atomic<bool>* cancel) {
  KineRevisions found = CheckKineSnapshot(path, cancel);
  if (record.revision != 0 && static_cast<uint64_t>(found.revision) != record.revision) {
    throw Error::Corrupt("the database is at kine revision " + std::to_string(found.revision) +
                         " but the record says " + std::to_string(record.revision));
  }
}

}  // namespace

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
    DecodedSnapshot decoded;
    if (record.datastore == "sqlite") {
      // A database is checked as a whole file: decoded into the scratch dir, then opened.
      if (options_.scratch_dir.empty()) {
        throw Error::Permanent("no scratch directory to check a SQLite snapshot in");
      }
      // Checked as written and never committed: nothing to fsync, and the file goes with `file`.
      StagedFile file(options_.scratch_dir + "/sqlite-verify.db");
      decoded = ReadStoredSnapshot(*source, record, options_.identities, &file, progress);
      CheckKineRevision(file.part_path(), record, job.cancel());
    } else {
      decoded = ReadStoredSnapshot(*source, record, options_.identities, nullptr, progress);
    }
    report.ok = true;
    report.snapshot_size = decoded.snapshot.size;
    spdlog::info("verified {} at {}: {} bytes stored, {} bytes of {} snapshot", record.name,
                 record.location, decoded.stored_size, decoded.snapshot.size, record.datastore);
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

SnapshotRecord SnapshotService::FindReady(const std::string& name, const std::string& storage) {
  ValidateSnapshotName(name);
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
  if (chosen->status != "ready") {
    throw Error::Corrupt(chosen->storage + " " + name + ": the save failed: " + chosen->error);
  }
  return *chosen;
}

StagedSnapshot SnapshotService::Stage(const std::string& name, const std::string& storage,
                                      const std::string& dir, bool with_token, JobContext& job) {
  job.SetSnapshot(name);
  const SnapshotRecord record = FindReady(name, storage);
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
    if (record.datastore == "sqlite") CheckKineRevision(staged.path, record, job.cancel());
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
  spdlog::info("restore: staged {} ({} bytes of {} snapshot, verified)", staged.path, staged.size,
               record.datastore);
  return staged;
}

}  // namespace snapd
