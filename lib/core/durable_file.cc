// WriteFileDurably and ReadSmallFile on POSIX calls.
#include "core/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/error.h"
#include "core/file_descriptor.h"

namespace snapd {
namespace {

constexpr std::string_view kTempSuffix = ".tmp";

}  // namespace

void WriteFileDurably(const std::string& dir, const std::string& name, std::string_view body) {
  const std::string path = dir + "/" + name;
  const std::string tmp = dir + "/." + name + std::string(kTempSuffix);
  FileDescriptor fd(
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) ThrowSystemError("create " + tmp, errno);
  try {
    ::fchmod(fd.get(), 0600);
    WriteAll(fd.get(), body, tmp);
    if (::fsync(fd.get()) != 0) ThrowSystemError("fsync " + tmp, errno);
    fd.Close(tmp);
  } catch (...) {
    // A full disk must not keep half a file (and its space) until the next cleanup.
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    ThrowSystemError("rename " + tmp, err);
  }
  SyncDirectory(dir);
}

void MakePrivateDirectories(const std::string& dir,
                            const std::function<void(const std::string&)>& on_create) {
  if (dir.empty()) return;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error::InvalidInput(dir + ": exists and is not a directory");
    return;
  }
  const size_t slash = dir.rfind('/');
  const std::string parent = slash == std::string::npos ? "."
                             : slash == 0               ? "/"
                                                        : dir.substr(0, slash);
  if (slash != std::string::npos && slash > 0) MakePrivateDirectories(parent, on_create);
  if (on_create) on_create(dir);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return;
    ThrowSystemError("create directory " + dir, errno);
  }
  SyncDirectory(parent);
}

bool IsDurableTempName(std::string_view name) {
  return name.size() > 1 + kTempSuffix.size() && name.front() == '.' && name.ends_with(kTempSuffix);
}

bool ReadSmallFile(const std::string& path, std::string& out, size_t limit) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return false;
  char buf[4096];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace snapd
