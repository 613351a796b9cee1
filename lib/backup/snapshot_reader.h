// Reads a stored snapshot back the way a restore would: decrypts and decompresses it as its
// name says, and checks the stored bytes against the record (sha256, size) and a decoded etcd
// snapshot against etcd's SHA-256 trailer (a SQLite copy is checked by the caller, as a whole
// file). Verify and restore staging are built on it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/byte_sink.h"
#include "core/byte_source.h"
#include "pipeline/age_keys.h"
#include "snapshot/snapshot_integrity.h"
#include "snapshot/snapshot_record.h"

namespace snapd {

// The age identities to decrypt with; throws Error::InvalidInput when none are configured.
using IdentitySupplier = std::function<std::vector<AgeIdentity>()>;

struct DecodedSnapshot {
  uint64_t stored_size = 0;
  std::string stored_sha256;
  SnapshotDigest snapshot;  // of the decoded snapshot (etcd's, or the SQLite copy)
};

struct ReadProgress {
  const std::atomic<bool>* cancel = nullptr;      // stops the read with Error::Cancelled
  std::function<void(uint64_t)> on_stored_bytes;  // stored bytes read since the last call
};

// Reads all of `stored` (the bytes of `record`), passing the decoded snapshot to `out` (may be
// null). Throws Error::Corrupt naming the first check that failed; errors of the source or the
// decoders keep their kind.
DecodedSnapshot ReadStoredSnapshot(ByteSource& stored, const SnapshotRecord& record,
                                   const IdentitySupplier& identities, ByteSink* out,
                                   const ReadProgress& progress);

}  // namespace snapd
