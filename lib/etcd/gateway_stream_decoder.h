// Incremental decoder of etcd's gRPC-gateway snapshot stream (POST /v3/maintenance/snapshot):
// newline-delimited JSON messages {"result":{"remaining_bytes":"N","blob":"<base64>"}}, data
// first, then one 32-byte message with the SHA-256 trailer. Pure: bytes in, bytes out, so it
// is tested at every split point without a server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/byte_sink.h"
#include "etcd/snapshot_sequence.h"

namespace snapd {

class GatewayStreamDecoder {
 public:
  // Decoded snapshot bytes (data, then the trailer) go to `out` as they arrive.
  explicit GatewayStreamDecoder(ByteSink& out) : sequence_(out) {}

  // Takes the next bytes of the HTTP body, split anywhere. Throws snapd::Error for an error
  // object from etcd, a malformed message or one that breaks the remaining_bytes sequence.
  void Feed(std::string_view bytes);

  // The body ended. Throws Error::Transient when the stream was cut before the trailer (etcd
  // went away), or the error etcd sent without a final newline.
  void Finish();

  // The database size announced by the first message (0 before it).
  uint64_t database_size() const { return sequence_.database_size(); }
  uint64_t bytes_decoded() const { return sequence_.bytes_decoded(); }

  // Longest message accepted; etcd sends 32 KiB blobs (about 44 KiB of JSON).
  static constexpr size_t kMaxMessageSize = 8 << 20;
  static constexpr size_t kTrailerSize = SnapshotSequence::kTrailerSize;

 private:
  void HandleMessage(std::string_view line);

  std::string pending_;  // an incomplete line carried over between Feed calls
  std::string blob_;     // reused decode buffer
  SnapshotSequence sequence_;
};

}  // namespace snapd
