// A whole file mapped read-only into memory: how snapshot files are read without copying them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace snapd {

class MappedFile {
 public:
  // Maps `path` (a regular file) read-only. Throws Error: NotFound when it does not exist,
  // Permanent when it cannot be opened, is not a regular file or cannot be mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // The file's bytes as they were when mapped (empty for an empty file). Truncating the file
  // while it is mapped makes reads past the new end fault (SIGBUS): map only files nobody
  // changes, as stored snapshots are.
  std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(data_), size_}; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace snapd
