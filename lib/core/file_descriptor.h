// An owned POSIX file descriptor, and the directory fsync that makes a rename durable: shared
// by the stores and the restore steps, which all write files that must survive a crash.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "core/error.h"

namespace snapd {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  ~FileDescriptor() { Reset(); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // close() reports delayed write errors on some filesystems (NFS): check it when it matters.
  void Close(const std::string& path) {
    int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) ThrowSystemError("close " + path, errno);
  }

 private:
  int fd_;
};

// Writes all of `data` to `fd`, retrying short writes and EINTR; `path` names it in errors.
inline void WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowSystemError("write " + path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Makes the entries of `dir` (a rename, a new file) durable.
inline void SyncDirectory(const std::string& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) ThrowSystemError("open directory " + dir, errno);
  if (::fsync(fd.get()) != 0) ThrowSystemError("fsync directory " + dir, errno);
}

}  // namespace snapd
