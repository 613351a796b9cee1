// The filesystem steps of a restore on POSIX calls (renameat2, openat/unlinkat, fsync).
#include "restore/file_moves.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/file_descriptor.h"

namespace snapd {
namespace {

// 0 or the errno of a rename that must not replace `to`.
int RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
  // Filesystems without RENAME_NOREPLACE (older ZFS, NFS): a check, then rename(2). link() is
  // no way out for directories, and nothing else renames in these dirs during a restore.
  if (PathExists(to)) return EEXIST;
  if (::rename(from.c_str(), to.c_str()) != 0) return errno;
  return 0;
}

void RemoveTreeAt(int parent_fd, const std::string& name, const std::string& shown, dev_t device) {
  struct stat st;
  if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    ThrowSystemError("stat " + shown, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      ThrowSystemError("remove " + shown, errno);
    }
    return;
  }
  if (st.st_dev != device) {
    throw Error::Permanent("refusing to remove " + shown + ": another filesystem is mounted there");
  }
  FileDescriptor fd(
      ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) ThrowSystemError("open directory " + shown, errno);
  std::vector<std::string> names;
  {
    int listing_fd = ::dup(fd.get());
    if (listing_fd < 0) ThrowSystemError("dup", errno);
    DIR* dir = ::fdopendir(listing_fd);
    if (dir == nullptr) {
      ::close(listing_fd);
      ThrowSystemError("list " + shown, errno);
    }
    while (struct dirent* entry = ::readdir(dir)) {
      std::string entry_name = entry->d_name;
      if (entry_name != "." && entry_name != "..") names.push_back(entry_name);
    }
    ::closedir(dir);
  }
  for (const std::string& entry : names) RemoveTreeAt(fd.get(), entry, shown + "/" + entry, device);
  fd.Close(shown);
  if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0) {
    ThrowSystemError("remove directory " + shown, errno);
  }
}

}  // namespace

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string ParentOf(const std::string& path) {
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return "/";
  size_t slash = path.rfind('/', end);
  if (slash == std::string::npos) return ".";
  size_t parent_end = path.find_last_not_of('/', slash);
  return parent_end == std::string::npos ? "/" : path.substr(0, parent_end + 1);
}

std::string BaseNameOf(const std::string& path) {
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return "/";
  size_t slash = path.rfind('/', end);
  return path.substr(slash == std::string::npos ? 0 : slash + 1,
                     end - (slash == std::string::npos ? 0 : slash + 1) + 1);
}

void RequireAbsent(const std::string& path) {
  if (PathExists(path)) throw Error::Conflict(path + " already exists; refusing to replace it");
}

void MoveNoReplace(const std::string& from, const std::string& to, const StepLog& log) {
  log("moving " + from + " to " + to);
  int err = RenameNoReplace(from, to);
  if (err == EEXIST || err == ENOTEMPTY) {
    throw Error::Conflict(to + " already exists; refusing to replace it with " + from);
  }
  if (err != 0) ThrowSystemError("move " + from + " to " + to, err);
  SyncDirectory(ParentOf(to));
  if (ParentOf(from) != ParentOf(to)) SyncDirectory(ParentOf(from));
}

void RemoveDirectoryWeMade(const std::string& path, const std::string& required_suffix,
                           const StepLog& log) {
  if (required_suffix.empty() || path.size() <= required_suffix.size() ||
      path.compare(path.size() - required_suffix.size(), std::string::npos, required_suffix) != 0) {
    throw Error::Permanent("refusing to remove " + path + ": not a directory this restore made");
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    ThrowSystemError("stat " + path, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    throw Error::Permanent("refusing to remove " + path + ": not a directory");
  }
  log("removing " + path + " and everything under it");
  std::string parent = ParentOf(path);
  FileDescriptor parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (parent_fd.get() < 0) ThrowSystemError("open directory " + parent, errno);
  RemoveTreeAt(parent_fd.get(), BaseNameOf(path), path, st.st_dev);
  if (::fsync(parent_fd.get()) != 0) ThrowSystemError("fsync directory " + parent, errno);
}

void WritePrivateFileDurably(const std::string& path, const std::string& content,
                             const StepLog& log) {
  log("writing " + path + " (mode 0600)");
  FileDescriptor fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) RequireAbsent(path);
    ThrowSystemError("create " + path, errno);
  }
  try {
    if (::fchmod(fd.get(), 0600) != 0) ThrowSystemError("chmod " + path, errno);
    WriteAll(fd.get(), content, path);
    if (::fsync(fd.get()) != 0) ThrowSystemError("fsync " + path, errno);
    fd.Close(path);
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
  SyncDirectory(ParentOf(path));
}

std::vector<std::string> EntriesStartingWith(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> names;
  DIR* listing = ::opendir(dir.c_str());
  if (listing == nullptr) return names;
  while (struct dirent* entry = ::readdir(listing)) {
    std::string name = entry->d_name;
    if (name != "." && name != ".." && name.compare(0, prefix.size(), prefix) == 0) {
      names.push_back(name);
    }
  }
  ::closedir(listing);
  return names;
}

std::string FindInPath(const std::string& program) {
  if (program.empty() || program.find('/') != std::string::npos) return "";
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/bin:/usr/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

}  // namespace snapd
