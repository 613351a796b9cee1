// A ByteSource over bytes already in memory: small payloads (a header, an increment) fed to the
// decoding stages that read sources.
#pragma once

#include <algorithm>
#include <cstring>
#include <string_view>

#include "core/byte_source.h"

namespace snapd {

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string_view data) : data_(data) {}
  size_t Read(char* buffer, size_t size) override {
    const size_t n = std::min(size, data_.size());
    if (n > 0) std::memcpy(buffer, data_.data(), n);
    data_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view data_;
};

}  // namespace snapd
