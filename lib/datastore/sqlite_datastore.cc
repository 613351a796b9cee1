// SqliteDatastore: CopyKineDatabase into the state dir, then the copy streamed and hashed.
#include "datastore/sqlite_datastore.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "core/digest.h"
#include "core/error.h"
#include "core/file_descriptor.h"
#include "datastore/sqlite_copy.h"

namespace snapd {
namespace {

constexpr std::string_view kCopyPrefix = "sqlite-copy.";
constexpr size_t kReadChunk = 1 << 20;

}  // namespace

SqliteDatastore::SqliteDatastore(std::string db_path, std::string temp_dir)
    : db_path_(std::move(db_path)), temp_dir_(std::move(temp_dir)) {}

void SqliteDatastore::Prepare() {
  DIR* d = ::opendir(temp_dir_.c_str());
  if (d == nullptr) return;
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  while (dirent* entry = ::readdir(d)) {
    if (!std::string_view(entry->d_name).starts_with(kCopyPrefix)) continue;
    if (::unlinkat(::dirfd(d), entry->d_name, 0) == 0) {
      spdlog::info("removed {}/{}, a copy of {} left by an interrupted save", temp_dir_,
                   entry->d_name, db_path_);
    }
  }
}

DatastoreSnapshot SqliteDatastore::Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                                            const std::function<void(uint64_t)>& on_size) {
  // One save at a time runs per daemon (the job runner), and the state dir is ours alone.
  const std::string copy_path = temp_dir_ + "/" + std::string(kCopyPrefix) + "db";
  ::unlink(copy_path.c_str());
  SqliteCopyResult copied = CopyKineDatabase(db_path_, copy_path, cancel);
  FileDescriptor fd(::open(copy_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  const int open_errno = errno;
  // Unlinked at once: the open descriptor keeps the bytes until streamed, a crash keeps nothing.
  ::unlink(copy_path.c_str());
  if (fd.get() < 0) ThrowSystemError("open the copy " + copy_path, open_errno);
  spdlog::info("copied {} at revision {} (compact revision {}) in one read transaction of {} ms",
               db_path_, copied.revisions.revision, copied.revisions.compact_revision,
               copied.read_transaction.count());
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) ThrowSystemError("stat the copy " + copy_path, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (on_size) on_size(size);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

  Sha256 hash;
  std::unique_ptr<char[]> buffer(new char[kReadChunk]);
  uint64_t done = 0;
  while (done < size) {
    if (cancel != nullptr && cancel->load()) {
      throw Error::Cancelled("copy of " + db_path_ + ": cancelled");
    }
    ssize_t n = ::read(fd.get(), buffer.get(), kReadChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowSystemError("read the copy of " + db_path_, errno);
    if (n == 0) break;
    std::string_view chunk(buffer.get(), static_cast<size_t>(n));
    hash.Update(chunk);
    sink.Write(chunk);
    done += chunk.size();
  }
  if (done != size) {
    throw Error::Permanent("copy of " + db_path_ + ": read " + std::to_string(done) + " of " +
                           std::to_string(size) + " bytes");
  }
  DatastoreSnapshot snapshot;
  snapshot.digest = {size, DigestHex(hash.Finish())};
  snapshot.revision = static_cast<uint64_t>(copied.revisions.revision);
  snapshot.compact_revision = static_cast<uint64_t>(copied.revisions.compact_revision);
  return snapshot;
}

}  // namespace snapd
