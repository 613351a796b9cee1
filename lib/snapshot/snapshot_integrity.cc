// SHA-256 trailer check over a stream, holding back the last 32 bytes.
#include "snapshot/snapshot_integrity.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace snapd {

void SnapshotIntegrity::Write(std::string_view chunk) {
  size_ += chunk.size();
  if (chunk.size() >= sizeof tail_) {
    // The old tail and all but the last 32 bytes of the chunk are content.
    content_.Update(tail_, tail_size_);
    content_.Update(chunk.data(), chunk.size() - sizeof tail_);
    std::memcpy(tail_, chunk.data() + chunk.size() - sizeof tail_, sizeof tail_);
    tail_size_ = sizeof tail_;
    return;
  }
  size_t overflow =
      tail_size_ + chunk.size() > sizeof tail_ ? tail_size_ + chunk.size() - sizeof tail_ : 0;
  content_.Update(tail_, overflow);
  std::memmove(tail_, tail_ + overflow, tail_size_ - overflow);
  tail_size_ -= overflow;
  std::memcpy(tail_ + tail_size_, chunk.data(), chunk.size());
  tail_size_ += chunk.size();
}

SnapshotDigest SnapshotIntegrity::Finish() {
  if (size_ < sizeof tail_) {
    throw Error::Corrupt("snapshot is " + std::to_string(size_) +
                         " bytes, too short to hold the SHA-256 trailer");
  }
  if (size_ % 512 != sizeof tail_) {
    throw Error::Corrupt("snapshot size " + std::to_string(size_) +
                         " is not a database size plus a 32-byte SHA-256 trailer (truncated?)");
  }
  Sha256Digest whole = content_.FinishWith(std::string_view(tail_, sizeof tail_));
  Sha256Digest expected = content_.Finish();
  if (!std::equal(expected.begin(), expected.end(), reinterpret_cast<const uint8_t*>(tail_))) {
    throw Error::Corrupt("snapshot SHA-256 trailer does not match its content");
  }
  return SnapshotDigest{size_, DigestHex(whole)};
}

}  // namespace snapd
