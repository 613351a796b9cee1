// Incremental decoder of etcd's native gRPC snapshot stream (Maintenance/Snapshot over HTTP/2):
// length-prefixed gRPC frames, each a SnapshotResponse {remaining_bytes = 2, blob = 3} read by
// hand, checked as a sequence like the gateway's. Pure: bytes in, bytes out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/byte_sink.h"
#include "etcd/snapshot_sequence.h"

namespace snapd {

// Splits a gRPC body into messages: a 1-byte compressed flag, a 4-byte big-endian length, the
// message. Calls `on_message` for each; throws Error::Corrupt for a compressed or oversized
// message. Holds at most one message that arrived in pieces.
class GrpcFrameReader {
 public:
  static constexpr size_t kMaxMessageSize = 16 << 20;

  explicit GrpcFrameReader(size_t max_message_size = kMaxMessageSize)
      : max_message_size_(max_message_size) {}

  template <typename OnMessage>
  void Feed(std::string_view bytes, OnMessage&& on_message) {
    while (!bytes.empty()) {
      if (pending_.empty() && bytes.size() >= 5) {
        const size_t size = MessageSize(bytes);
        if (bytes.size() >= 5 + size) {  // whole in this piece: no copy
          on_message(bytes.substr(5, size));
          bytes.remove_prefix(5 + size);
          continue;
        }
      }
      const size_t want = pending_.size() < 5 ? 5 : 5 + MessageSize(pending_);
      const size_t take = std::min(want - pending_.size(), bytes.size());
      pending_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (pending_.size() >= 5 && pending_.size() == 5 + MessageSize(pending_)) {
        on_message(std::string_view(pending_).substr(5));
        pending_.clear();
      }
    }
  }
  // True when the body ended between messages.
  bool AtBoundary() const { return pending_.empty(); }

 private:
  size_t MessageSize(std::string_view header) const;  // checks the flag and the size
  size_t max_message_size_;
  std::string pending_;
};

class GrpcSnapshotDecoder {
 public:
  explicit GrpcSnapshotDecoder(ByteSink& out) : sequence_(out) {}

  void Feed(std::string_view bytes);
  // The body ended: Error::Transient when cut (mid-message or before the trailer).
  void Finish();

  uint64_t database_size() const { return sequence_.database_size(); }
  bool started() const { return sequence_.started(); }

 private:
  void HandleMessage(std::string_view message);
  GrpcFrameReader frames_;
  SnapshotSequence sequence_;
};

}  // namespace snapd
