// A directory held by one process: created 0700 if missing, then an exclusive flock on
// its `lock` file, taken without waiting. The kernel drops the lock when the process dies, so a
// crash never leaves it held.
#pragma once

#include <string>

#include "core/file_descriptor.h"

namespace snapd {

class DirectoryLock {
 public:
  // Creates `dir` (and its parents) 0700 and locks it. Throws kConflict naming the dir (and
  // the holder's pid when known) while another process holds it; another Error when the dir
  // cannot be made or the lock file opened.
  explicit DirectoryLock(std::string dir);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  FileDescriptor fd_;
};

}  // namespace snapd
