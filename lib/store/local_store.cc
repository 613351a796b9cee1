// LocalStore on POSIX calls.
#include "store/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>

#include <spdlog/spdlog.h>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/file_descriptor.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

constexpr size_t kWriteBuffer = 1 << 20;
// Written data is handed to the disk in steps of this size while the snapshot streams (below).
constexpr uint64_t kWritebackStep = 8 << 20;

void MakeDir(const std::string& path) {
  if (path.empty()) return;
  struct stat st;
  // stat, not lstat: a snapshot dir symlinked elsewhere (to a bigger disk) is a directory.
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error::InvalidInput(path + ": exists and is not a directory");
    return;
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) MakeDir(path.substr(0, slash));
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    ThrowSystemError("create directory " + path, errno);
  }
  ::chmod(path.c_str(), 0700);  // umask may have narrowed it further; never wider
}

// rename() that never replaces; returns 0 or the errno. Filesystems without RENAME_NOREPLACE
// (older ZFS, NFS) get link() + unlink(), which refuses an existing name just the same.
int RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  ::unlink(from.c_str());
  return 0;
}

std::string ParentOf(const std::string& dir) {
  size_t slash = dir.find_last_not_of('/');
  slash = slash == std::string::npos ? std::string::npos : dir.rfind('/', slash);
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : dir.substr(0, slash);
}

// Removes `name`'s entry from the part journal; a failure only delays the entry's end to the
// next start, where the `.part` it names is found gone.
void ForgetPart(JournalDir* journal, const std::string& name) noexcept {
  if (journal == nullptr) return;
  try {
    journal->Remove(name);
  } catch (const std::exception& e) {
    spdlog::warn("cannot drop {} from the journal of saves in progress: {}", name, e.what());
  }
}

class LocalWriter final : public SnapshotWriter {
 public:
  LocalWriter(const LocalStore& store, std::string name, JournalDir* part_journal)
      : store_(store),
        name_(std::move(name)),
        path_(store.PathOf(name_)),
        part_(path_ + std::string(kPartSuffix)),
        part_journal_(part_journal) {
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0) {
      throw Error::Conflict("snapshot " + name_ + " already exists in " + store.dir());
    }
    // Noted before the file exists: after a crash the next start knows the `.part` was ours.
    if (part_journal_ != nullptr) part_journal_->Write(name_, part_);
    fd_.Reset(::open(part_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd_.get() < 0) {
      const int err = errno;
      ForgetPart(part_journal_, name_);
      if (err == EEXIST) throw Error::Conflict("snapshot " + name_ + " is already being written");
      ThrowSystemError("create " + part_, err);
    }
    created_ = true;
    // Marks the file as being written, so a cleanup in another process leaves it alone.
    ::flock(fd_.get(), LOCK_EX | LOCK_NB);
    if (::fchmod(fd_.get(), 0600) != 0) ThrowSystemError("chmod " + part_, errno);
    buffer_.reserve(kWriteBuffer);
  }

  ~LocalWriter() override { Abort(); }

  void SetTokenBackup(std::string sealed) override { token_backup_ = std::move(sealed); }

  void Write(std::string_view chunk) override {
    if (buffer_.size() + chunk.size() > kWriteBuffer) Flush();
    if (chunk.size() >= kWriteBuffer) {
      WriteAll(fd_.get(), chunk, part_);
      Written(chunk.size());
    } else {
      buffer_.append(chunk);
    }
  }

  void KeepCachedUntilCommit() override { keep_cached_ = true; }

  std::string FlushForReading() override {
    Flush();
    return part_;
  }

  SnapshotRecord Commit(const SnapshotRecord& record) override {
    Flush();
    if (::fsync(fd_.get()) != 0) ThrowSystemError("fsync " + part_, errno);
    if (keep_cached_) ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_DONTNEED);
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) ThrowSystemError("stat " + part_, errno);
    fd_.Close(part_);

    SnapshotRecord stored = record;
    stored.name = name_;
    stored.storage = "local";
    stored.location = "file://" + path_;
    stored.size = static_cast<uint64_t>(st.st_size);
    stored.status = "ready";
    stored.token_backup = !token_backup_.empty();
    SetEncodingFromName(stored);
    const std::string metadata_dir = ParentOf(store_.MetadataPathOf(name_));
    if (stored.token_backup) {
      WriteFileDurably(metadata_dir, TokenBackupName(name_), token_backup_);
      token_written_ = true;
    }
    // The record goes first: a listed snapshot always has its record, and a crash between the
    // two leaves only a record without a file, which List ignores and cleanup removes.
    WriteFileDurably(metadata_dir, name_, RecordToMetadataJson(stored));
    if (int err = RenameNoReplace(part_, path_); err != 0) {
      ::unlink(store_.MetadataPathOf(name_).c_str());
      RemoveTokenBackup();
      if (err == EEXIST) throw Error::Conflict("snapshot " + name_ + " already exists");
      ThrowSystemError("rename " + part_, err);
    }
    created_ = false;
    token_written_ = false;
    SyncDirectory(store_.dir());
    ForgetPart(part_journal_, name_);
    return stored;
  }

  void Abort() noexcept override {
    fd_.Reset();
    if (created_) {
      ::unlink(part_.c_str());
      created_ = false;
      ForgetPart(part_journal_, name_);
    }
    RemoveTokenBackup();
  }

 private:
  void Flush() {
    WriteAll(fd_.get(), buffer_, part_);
    Written(buffer_.size());
    buffer_.clear();
  }

  // Left to the kernel, a whole snapshot sits dirty in the page cache (Linux starts writeback
  // only at 10% of RAM) and the final fsync writes it all at once, after the stream: seconds
  // added to every save, and a burst of I/O that can stall etcd's own WAL fsyncs on the same
  // disk. So each 8 MiB step is sent to the disk as soon as it is written, and the step before
  // it is waited for: at most two steps are ever dirty, the disk works while etcd streams, and
  // the fsync at the end has little left to do. The steps on disk are then dropped from the
  // cache: nothing reads a snapshot back soon, and a cache full of it would push out etcd's
  // own memory-mapped database. Failures are not errors here: the fsync in Commit is what
  // decides whether the data is on disk (and reports the error).
  void Written(uint64_t n) {
    written_ += n;
    if (written_ - started_ < kWritebackStep) return;
    ::sync_file_range(fd_.get(), static_cast<off_t>(started_),
                      static_cast<off_t>(written_ - started_), SYNC_FILE_RANGE_WRITE);
    if (started_ > waited_) {
      ::sync_file_range(
          fd_.get(), static_cast<off_t>(waited_), static_cast<off_t>(started_ - waited_),
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      // A check about to read the file back keeps it cached until Commit, which drops it then.
      if (!keep_cached_) {
        ::posix_fadvise(fd_.get(), static_cast<off_t>(waited_),
                        static_cast<off_t>(started_ - waited_), POSIX_FADV_DONTNEED);
      }
      waited_ = started_;
    }
    started_ = written_;
  }

  void RemoveTokenBackup() noexcept {
    if (!token_written_) return;
    ::unlink(store_.MetadataPathOf(TokenBackupName(name_)).c_str());
    token_written_ = false;
  }

  const LocalStore& store_;
  std::string name_;
  std::string path_;
  std::string part_;
  JournalDir* part_journal_;
  FileDescriptor fd_;
  bool created_ = false;
  bool keep_cached_ = false;  // KeepCachedUntilCommit: no dropping from the cache mid-save
  std::string buffer_;
  uint64_t written_ = 0;  // bytes written to the file so far
  uint64_t started_ = 0;  // writeback has been started for [0, started_)
  uint64_t waited_ = 0;   // and has completed for [0, waited_)
  std::string token_backup_;
  bool token_written_ = false;
};

class FileSource final : public ByteSource {
 public:
  explicit FileSource(std::string path) : path_(std::move(path)) {
    // O_NONBLOCK so that a FIFO in the snapshot dir cannot hang the open.
    fd_.Reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (fd_.get() < 0) {
      if (errno == ELOOP) throw Error::NotFound(path_ + " is a symlink, not a snapshot");
      ThrowSystemError("open " + path_, errno);
    }
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) ThrowSystemError("stat " + path_, errno);
    if (!S_ISREG(st.st_mode)) throw Error::NotFound(path_ + " is not a regular file");
    ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) & ~O_NONBLOCK);
  }
  size_t Read(char* buffer, size_t size) override {
    for (;;) {
      ssize_t n = ::read(fd_.get(), buffer, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) ThrowSystemError("read " + path_, errno);
    }
  }

 private:
  std::string path_;
  FileDescriptor fd_;
};

// The `.part` files that saves of an earlier process of ours were writing when it died, as
// its journal names them: removed at once, with no grace period, unless a writer holds one.
int RemoveOwnLeftoverParts(JournalDir& journal) {
  int removed = 0;
  for (const JournalEntry& entry : journal.Leftovers()) {
    std::string path = entry.body;
    while (!path.empty() && path.back() == '\n') path.pop_back();
    if (!path.starts_with('/') || !path.ends_with("/" + entry.name + std::string(kPartSuffix))) {
      spdlog::warn("journal of saves in progress: {}/{} names \"{}\", not its .part; dropped",
                   journal.dir(), entry.name, path);
      ForgetPart(&journal, entry.name);
      continue;
    }
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    struct stat st;
    if (fd.get() >= 0 && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a live writer holds it
      if (::unlink(path.c_str()) == 0) {
        spdlog::info("removed {}, left by a save that was interrupted", path);
        ++removed;
      }
    }
    ForgetPart(&journal, entry.name);
  }
  return removed;
}

}  // namespace

LocalStore::LocalStore(std::string dir, std::string node_name, JournalDir* part_journal)
    : dir_(std::move(dir)), node_name_(std::move(node_name)), part_journal_(part_journal) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  metadata_dir_ = ParentOf(dir_) + "/.metadata";
}

void LocalStore::Prepare() {
  MakeDir(dir_);
  MakeDir(metadata_dir_);
}

std::unique_ptr<SnapshotWriter> LocalStore::Create(const std::string& name) {
  ValidateSnapshotName(name);
  return std::make_unique<LocalWriter>(*this, name, part_journal_);
}

std::vector<SnapshotRecord> LocalStore::List() {
  std::vector<SnapshotRecord> records;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return records;
    ThrowSystemError("list " + dir_, errno);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name.empty() || name.front() == '.' || name.ends_with(kPartSuffix)) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode)) continue;
    SnapshotRecord r;
    r.name = name;
    r.node = node_name_;
    r.storage = "local";
    r.location = "file://" + PathOf(name);
    r.size = static_cast<uint64_t>(st.st_size);
    r.created_at = ParseSnapshotTime(name).value_or(st.st_mtime);
    SetEncodingFromName(r);
    std::string metadata;
    if (ReadSmallFile(MetadataPathOf(name), metadata)) {
      uint64_t actual = r.size;
      if (MergeMetadataJson(metadata, r) && r.size != actual) {
        r.status = "failed";
        r.error = "file is " + std::to_string(actual) + " bytes but was saved with " +
                  std::to_string(r.size) + " (truncated or replaced)";
        r.size = actual;
      }
    }
    records.push_back(std::move(r));
  }
  return records;
}

std::unique_ptr<ByteSource> LocalStore::Open(const std::string& name) {
  ValidateSnapshotName(name);
  return std::make_unique<FileSource>(PathOf(name));
}

void LocalStore::RemoveUnsynced(const std::string& name) {
  ValidateSnapshotName(name);
  struct stat st;
  if (::lstat(PathOf(name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error::NotFound("snapshot " + name + " not found in " + dir_);
  }
  if (::unlink(PathOf(name).c_str()) != 0) ThrowSystemError("delete " + PathOf(name), errno);
  for (const std::string& path : {MetadataPathOf(name), MetadataPathOf(TokenBackupName(name))}) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowSystemError("delete " + path, errno);
  }
}

void LocalStore::Remove(const std::string& name) {
  RemoveUnsynced(name);
  SyncDirectory(dir_);
  const std::vector<RemoveFailure> failed = RemoveIncrements(IncrementsOf({name}));
  if (!failed.empty()) {
    throw Error::Permanent("snapshot " + name + " removed, but not its increment " +
                           failed.front().name + ": " + failed.front().error);
  }
}

std::vector<RemoveFailure> LocalStore::RemoveMany(const std::vector<std::string>& names) {
  std::vector<RemoveFailure> failures;
  std::vector<std::string> removed;
  for (const std::string& name : names) {
    try {
      RemoveUnsynced(name);
      removed.push_back(name);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) failures.push_back({name, e.what()});
    }
  }
  if (removed.empty()) return failures;
  SyncDirectory(dir_);
  // One pass over the metadata dir for all of them.
  try {
    for (const RemoveFailure& f : RemoveIncrements(IncrementsOf(removed))) {
      failures.push_back({std::string(SnapshotOfIncrement(f.name)),
                          "removed, but not its increment " + f.name + ": " + f.error});
    }
  } catch (const Error& e) {
    for (const std::string& name : removed) {
      failures.push_back({name, std::string("removed, but not its increments: ") + e.what()});
    }
  }
  return failures;
}

std::vector<std::string> LocalStore::IncrementsOf(const std::vector<std::string>& snapshots) {
  const std::set<std::string, std::less<>> wanted(snapshots.begin(), snapshots.end());
  std::vector<std::string> found;
  for (std::string& name : ListIncrements()) {
    if (wanted.contains(SnapshotOfIncrement(name))) found.push_back(std::move(name));
  }
  return found;
}

void LocalStore::PutIncrement(const std::string& name, std::string_view bytes) {
  ValidateIncrementName(name);
  if (bytes.size() > kMaxIncrementSize) {
    throw Error::InvalidInput("increment " + name + " is " + std::to_string(bytes.size()) +
                              " bytes, more than the " + std::to_string(kMaxIncrementSize) +
                              " a store keeps");
  }
  WriteFileDurably(metadata_dir_, name, bytes);
}

std::vector<std::string> LocalStore::ListIncrements() {
  std::vector<std::string> names;
  DIR* d = ::opendir(metadata_dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    ThrowSystemError("list " + metadata_dir_, errno);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (!IsIncrementName(name)) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string LocalStore::ReadIncrement(const std::string& name) {
  ValidateIncrementName(name);
  const std::string path = MetadataPathOf(name);
  FileSource source(path);  // kNotFound when missing, a symlink or not a regular file
  std::string bytes;
  char buffer[64 << 10];
  while (size_t n = source.Read(buffer, sizeof buffer)) {
    bytes.append(buffer, n);
    if (bytes.size() > kMaxIncrementSize) {
      throw Error::Corrupt(path + ": larger than an increment can be (" +
                           std::to_string(kMaxIncrementSize) + " bytes)");
    }
  }
  return bytes;
}

std::vector<RemoveFailure> LocalStore::RemoveIncrements(const std::vector<std::string>& names) {
  std::vector<RemoveFailure> failures;
  bool removed = false;
  for (const std::string& name : names) {
    if (!IsIncrementName(name)) {
      failures.push_back({name, "not an increment name"});
      continue;
    }
    const std::string path = MetadataPathOf(name);
    if (::unlink(path.c_str()) == 0) {
      removed = true;
    } else if (errno != ENOENT) {
      failures.push_back({name, "delete " + path + ": " + std::strerror(errno)});
    }
  }
  if (removed) SyncDirectory(metadata_dir_);
  return failures;
}

std::string LocalStore::ReadTokenBackup(const std::string& name) {
  ValidateSnapshotName(name);
  std::string sealed;
  if (!ReadSmallFile(MetadataPathOf(TokenBackupName(name)), sealed)) {
    if (errno == ENOENT)
      throw Error::NotFound("snapshot " + name + " has no saved token in " + dir_);
    ThrowSystemError("read " + MetadataPathOf(TokenBackupName(name)), errno);
  }
  return sealed;
}

int LocalStore::RemoveIncomplete() {
  int removed = part_journal_ != nullptr ? RemoveOwnLeftoverParts(*part_journal_) : 0;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return 0;
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  time_t now = ::time(nullptr);
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (!name.ends_with(kPartSuffix)) continue;
    FileDescriptor fd(::openat(::dirfd(d), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) continue;
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a live writer holds it
    if (now - st.st_mtime < kPartGraceSeconds) continue;
    if (::unlinkat(::dirfd(d), name.c_str(), 0) == 0) ++removed;
  }
  // Records whose snapshot never got its final name (a crash between the two renames).
  if (DIR* m = ::opendir(metadata_dir_.c_str())) {
    std::unique_ptr<DIR, int (*)(DIR*)> metadata_guard(m, ::closedir);
    while (dirent* entry = ::readdir(m)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      std::string path = metadata_dir_ + "/" + name;
      struct stat st;
      if (name.front() == '.') {
        if (IsDurableTempName(name) && ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime >= kPartGraceSeconds && ::unlink(path.c_str()) == 0) {
          ++removed;
        }
        continue;
      }
      // Increments are not records; they go with their snapshot (Remove), not here.
      if (IsIncrementName(name)) continue;
      // A token backup belongs to the snapshot it is named after.
      const std::string_view owner = SnapshotOfTokenBackup(name);
      const std::string snapshot = owner.empty() ? name : std::string(owner);
      // `.part` before the final name: a Commit renames one into the other, so checking in
      // this order cannot miss both while a save is finishing.
      if (::lstat((PathOf(snapshot) + std::string(kPartSuffix)).c_str(), &st) == 0) continue;
      if (::lstat(PathOf(snapshot).c_str(), &st) == 0) continue;
      if (!owner.empty()) {
        // Written just before its snapshot's rename: give a finishing save its grace period.
        if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime >= kPartGraceSeconds && ::unlink(path.c_str()) == 0) {
          ++removed;
        }
        continue;
      }
      std::string body;
      SnapshotRecord probe;
      if (ReadSmallFile(path, body) && MergeMetadataJson(body, probe)) {
        if (::unlink(path.c_str()) == 0) ++removed;
      }
    }
  }
  return removed;
}

}  // namespace snapd
