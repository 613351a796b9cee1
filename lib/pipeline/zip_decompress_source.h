// Reads the one entry of a k3s-style snapshot zip as a stream (ours, k3s's, or `zip`'s), with
// libarchive, checking the entry's CRC-32.
#pragma once

#include <memory>
#include <string>

#include "core/byte_source.h"

namespace snapd {

class ZipDecompressSource final : public ByteSource {
 public:
  // Reads nothing until the first Read.
  explicit ZipDecompressSource(ByteSource& in);
  ~ZipDecompressSource() override;

  // Throws Error::Corrupt when the archive is not a zip, is truncated, fails its CRC, or
  // holds no regular entry or more than one.
  size_t Read(char* buffer, size_t size) override;
  // The entry's name; empty before the first Read.
  const std::string& entry_name() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace snapd
