// SnapshotSequence: the checks of etcd's snapshot message sequence.
#include "etcd/snapshot_sequence.h"

#include <string>

#include "core/error.h"

namespace snapd {
namespace {

constexpr std::string_view kWhere = "etcd snapshot stream: ";

}  // namespace

bool IsTransientGrpcCode(int code) {
  return code == 1 || code == 2 || code == 4 || code == 8 || code == 10 || code == 14;
}

ErrorKind EtcdErrorKind(int code) {
  if (code == 5) return ErrorKind::kNotFound;
  return IsTransientGrpcCode(code) ? ErrorKind::kTransient : ErrorKind::kPermanent;
}

void SnapshotSequence::Accept(uint64_t remaining, std::string_view blob) {
  if (trailer_seen_) {
    throw Error::Corrupt(std::string(kWhere) + "message after the SHA-256 trailer");
  }
  if (!started_) {
    started_ = true;
    total_ = remaining + blob.size();
    if (total_ == 0) throw Error::Corrupt(std::string(kWhere) + "etcd announced an empty database");
  } else if (sent_ == total_) {
    // All data is in: this must be the trailer message.
    if (remaining != 0 || blob.size() != kTrailerSize) {
      throw Error::Corrupt(std::string(kWhere) + "expected the 32-byte SHA-256 trailer, got " +
                           std::to_string(blob.size()) + " bytes");
    }
    trailer_seen_ = true;
    out_.Write(blob);
    return;
  }
  if (blob.empty() || sent_ + blob.size() > total_ || remaining != total_ - sent_ - blob.size()) {
    throw Error::Corrupt(std::string(kWhere) + "remaining_bytes " + std::to_string(remaining) +
                         " does not follow from " + std::to_string(sent_ + blob.size()) + " of " +
                         std::to_string(total_) + " bytes");
  }
  sent_ += blob.size();
  out_.Write(blob);
}

void SnapshotSequence::Finish() const {
  if (!started_) {
    throw Error::Transient(std::string(kWhere) + "ended before any data (etcd closed the stream)");
  }
  if (!trailer_seen_) {
    throw Error::Transient(std::string(kWhere) + "cut after " + std::to_string(sent_) + " of " +
                           std::to_string(total_) + " bytes (etcd went away mid-snapshot?)");
  }
}

}  // namespace snapd
