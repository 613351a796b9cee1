// The file an upload's parts wait in until a worker sends them: unlinked from the start
// (O_TMPFILE), so a crash leaves nothing behind, and its pages live in the page cache rather than
// in the daemon's memory. Sent ranges are punched out so neither disk nor cache keeps them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/file_descriptor.h"

namespace snapd {

class PartSpool {
 public:
  // Opens an unlinked file in `dir`. Throws naming the dir when it cannot.
  explicit PartSpool(const std::string& dir);

  // Appends at the end; thread-compatible with concurrent ReadAt/Release of earlier ranges.
  void Append(std::string_view bytes);
  // Fills `size` bytes from `offset` (all written before); throws on a short read.
  void ReadAt(uint64_t offset, char* buffer, size_t size) const;
  // Frees [offset, offset + size) once sent; best effort (a failure only costs space).
  void Release(uint64_t offset, uint64_t size) noexcept;

  uint64_t size() const { return size_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  FileDescriptor fd_;
  uint64_t size_ = 0;
};

}  // namespace snapd
