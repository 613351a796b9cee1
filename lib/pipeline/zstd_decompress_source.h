// Reads a zstd stream (ours or `zstd`'s, one or more frames) with libzstd.
#pragma once

#include <memory>

#include "core/byte_source.h"

namespace snapd {

class ZstdDecompressSource final : public ByteSource {
 public:
  explicit ZstdDecompressSource(ByteSource& in);
  ~ZstdDecompressSource() override;

  // Throws Error::Corrupt for data that is not zstd, fails its checksum, or ends mid-frame.
  size_t Read(char* buffer, size_t size) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace snapd
