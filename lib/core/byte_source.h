// A stream to read from: a stored snapshot being verified, copied or restored.
#pragma once

#include <cstddef>

namespace snapd {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `size` bytes into `buffer`; returns 0 only at the end. Throws snapd::Error.
  virtual size_t Read(char* buffer, size_t size) = 0;
};

}  // namespace snapd
