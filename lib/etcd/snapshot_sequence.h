// The remaining_bytes bookkeeping both snapshot transports share: the first message announces
// the database size (its remaining_bytes plus its blob), every data message counts down
// exactly, and one 32-byte message with remaining_bytes 0 (etcd's SHA-256 trailer) ends it.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/byte_sink.h"
#include "core/error.h"

namespace snapd {

// gRPC status codes for which trying again later may work: CANCELLED, UNKNOWN,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE.
bool IsTransientGrpcCode(int code);
// The kind of an error etcd answered with gRPC status `code`: kNotFound for NOT_FOUND (a lease
// etcd does not know), kTransient as above, kPermanent otherwise.
ErrorKind EtcdErrorKind(int code);

class SnapshotSequence {
 public:
  static constexpr size_t kTrailerSize = 32;

  explicit SnapshotSequence(ByteSink& out) : out_(out) {}

  // One message's fields; passes the blob on. Throws Error::Corrupt when it breaks the sequence.
  void Accept(uint64_t remaining, std::string_view blob);
  // The stream ended: Error::Transient unless the trailer arrived (etcd went away).
  void Finish() const;

  uint64_t database_size() const { return total_; }
  bool started() const { return started_; }
  uint64_t bytes_decoded() const { return sent_ + (trailer_seen_ ? kTrailerSize : 0); }

 private:
  ByteSink& out_;
  bool started_ = false;
  bool trailer_seen_ = false;
  uint64_t total_ = 0;
  uint64_t sent_ = 0;
};

}  // namespace snapd
