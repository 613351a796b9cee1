// DirectoryLock on mkdir, open and flock; the holder writes its pid into the lock file so the
// refusal can name it.
#include "core/directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/durable_file.h"
#include "core/error.h"

namespace snapd {

DirectoryLock::DirectoryLock(std::string dir) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  // A dir that exists keeps its mode (it may be shared, as /var/lib is); the files in it are
  // private anyway.
  MakePrivateDirectories(dir_);
  const std::string path = dir_ + "/lock";
  fd_.Reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd_.get() < 0) ThrowSystemError("open " + path, errno);
  if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) ThrowSystemError("lock " + path, errno);
    std::string holder;
    ReadSmallFile(path, holder, 32);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw Error::Conflict("state dir " + dir_ + " is in use by another k3s-snapd" +
                          (holder.empty() ? "" : " (pid " + holder + ")") +
                          "; give each daemon its own state-dir");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_.get(), 0) == 0) (void)::pwrite(fd_.get(), pid.data(), pid.size(), 0);
}

}  // namespace snapd
