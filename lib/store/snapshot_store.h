// Where snapshots are kept. Rules every store follows (checked by one conformance suite):
// - A snapshot is listed only after Commit returned: no partial upload or `.part` file is ever
//   listed, and List never throws for one odd entry (it skips it).
// - Create never replaces an existing snapshot: the name is taken or Create throws kConflict.
// - A writer destroyed without Commit leaves nothing behind (Abort is implied).
// - Remove of a missing snapshot throws kNotFound; Remove also removes its token backup.
// - A token backup is stored before its snapshot is listed, and removed with it.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_sink.h"
#include "core/byte_source.h"
#include "core/error.h"
#include "snapshot/snapshot_record.h"

namespace snapd {

class SnapshotWriter : public ByteSink {
 public:
  // Saves `sealed` (the age-encrypted server token) beside the snapshot at Commit, before the
  // snapshot becomes visible. Call before Commit; without it no token is saved.
  virtual void SetTokenBackup(std::string sealed) = 0;
  // Makes the bytes written so far durable and visible under the record's name, with the
  // record stored beside them. Returns the record as stored (storage and location filled in).
  virtual SnapshotRecord Commit(const SnapshotRecord& record) = 0;
  // Drops everything written; safe to call more than once and after a failed Commit.
  virtual void Abort() noexcept = 0;
  // A flag that, once set, stops a Commit that waits on slow work (an upload still sending).
  virtual void WatchCancel(const std::atomic<bool>* /*cancel*/) {}
  // Asks the store to keep what is written cached in memory until Commit, because a check will
  // read it back before then (FlushForReading). Call before writing.
  virtual void KeepCachedUntilCommit() {}
  // Makes the bytes written so far readable in place and returns the file's path, so a check
  // before Commit can read what is being saved without a copy; "" when the store keeps no such
  // file (S3).
  virtual std::string FlushForReading() { return ""; }
};

// A snapshot RemoveMany could not remove, and why.
struct RemoveFailure {
  std::string name;
  std::string error;
};

// The largest increment a store keeps: PutIncrement refuses a larger one (kInvalidInput).
inline constexpr size_t kMaxIncrementSize = size_t{32} << 20;

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  virtual std::string_view Kind() const = 0;  // "local" or "s3", the `storage` of its records
  virtual std::unique_ptr<SnapshotWriter> Create(const std::string& name) = 0;
  virtual std::vector<SnapshotRecord> List() = 0;
  virtual std::unique_ptr<ByteSource> Open(const std::string& name) = 0;
  virtual void Remove(const std::string& name) = 0;
  // Removes each of `names` as Remove does, except that one already gone is no failure (the
  // caller just listed them). Returns those that could not be removed. Stores that can remove
  // many at once in fewer requests do; this default removes them one by one.
  virtual std::vector<RemoveFailure> RemoveMany(const std::vector<std::string>& names) {
    std::vector<RemoveFailure> failures;
    for (const std::string& name : names) {
      try {
        Remove(name);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kNotFound) failures.push_back({name, e.what()});
      } catch (const std::exception& e) {
        failures.push_back({name, e.what()});
      }
    }
    return failures;
  }
  // Increments (point-in-time recovery) are kept beside the snapshots where k3s never looks:
  // locally in `.metadata/` beside the snapshot dir, in S3 directly under `<folder>/.metadata/`.
  // Each is one small object (at most 32 MiB), written whole. Remove and RemoveMany also remove
  // the increments of the snapshots they remove (named `<snapshot>.<...>.inc...`). Stores that
  // keep none throw kPermanent.
  // Stores `bytes` as increment `name`, atomically (no reader sees part of it) and durably.
  virtual void PutIncrement(const std::string& name, std::string_view /*bytes*/) {
    throw Error::Permanent(std::string(Kind()) + " store keeps no increments (" + name + ")");
  }
  // The names of every increment held (ending .inc, .inc.zst, .inc.age or .inc.zst.age).
  virtual std::vector<std::string> ListIncrements() { return {}; }
  // The increment's bytes as stored; kNotFound when it is not there.
  virtual std::string ReadIncrement(const std::string& name) {
    throw Error::NotFound(std::string(Kind()) + " store keeps no increments (" + name + ")");
  }
  // Removes the increments named (one already gone is no failure); returns what failed.
  virtual std::vector<RemoveFailure> RemoveIncrements(const std::vector<std::string>& names) {
    (void)names;
    return {};
  }
  // The sealed token saved beside snapshot `name`; kNotFound when it has none.
  virtual std::string ReadTokenBackup(const std::string& name) = 0;
  // Removes what interrupted saves left (`.part` files, incomplete uploads). Returns how many.
  virtual int RemoveIncomplete() = 0;
};

}  // namespace snapd
