// Streaming check of an etcd snapshot's integrity: the last 32 bytes must be the SHA-256 of
// everything before them (what `etcdutl snapshot restore` checks), and the size must be a
// bbolt size plus the trailer (size % 512 == 32). Also yields size and SHA-256 of the whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/byte_sink.h"
#include "core/digest.h"

namespace snapd {

struct SnapshotDigest {
  uint64_t size = 0;   // bytes, trailer included
  std::string sha256;  // hex SHA-256 of all bytes, trailer included
};

class SnapshotIntegrity final : public ByteSink {
 public:
  void Write(std::string_view chunk) override;
  // Throws Error::Corrupt naming the failed check. Call once, after the last Write.
  SnapshotDigest Finish();

 private:
  // Everything but the last 32 bytes seen so far; the whole file's digest is this plus the
  // tail, so every byte is hashed once.
  Sha256 content_;
  char tail_[32];  // the last bytes seen: the trailer candidate
  size_t tail_size_ = 0;
  uint64_t size_ = 0;
};

}  // namespace snapd
