// PartSpool: an unlinked file written at its end, read and punched out behind.
#include "s3/part_spool.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace snapd {

PartSpool::PartSpool(const std::string& dir) : dir_(dir.empty() ? "/var/tmp" : dir) {
  int fd = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // A filesystem without O_TMPFILE: a named file, unlinked at once.
    std::string path = dir_ + "/.k3s-snapd-spool.XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) ThrowSystemError("S3 upload spool in " + dir_, errno);
  fd_.Reset(fd);
}

void PartSpool::Append(std::string_view bytes) {
  WriteAll(fd_.get(), bytes, "S3 upload spool in " + dir_);
  size_ += bytes.size();
}

void PartSpool::ReadAt(uint64_t offset, char* buffer, size_t size) const {
  while (size > 0) {
    const ssize_t n = ::pread(fd_.get(), buffer, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowSystemError("read S3 upload spool in " + dir_, errno);
    if (n == 0) {
      throw Error::Permanent("read S3 upload spool in " + dir_ + ": ends before byte " +
                             std::to_string(offset));
    }
    buffer += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

void PartSpool::Release(uint64_t offset, uint64_t size) noexcept {
  ::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
              static_cast<off_t>(size));
}

}  // namespace snapd
