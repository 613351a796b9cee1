// What a snapshot is taken from: etcd, or k3s's SQLite database through kine. The save
// pipeline streams whichever one the configuration resolved to, the same way for both.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/byte_sink.h"
#include "snapshot/snapshot_integrity.h"

namespace snapd {

// One consistent copy of a datastore, as streamed.
struct DatastoreSnapshot {
  SnapshotDigest digest;          // size and SHA-256 of the plain (unencoded) copy
  uint64_t revision = 0;          // the datastore's revision at the copy; 0 when not known
  uint64_t compact_revision = 0;  // its compact revision at the copy; 0 when not known
};

class Datastore {
 public:
  virtual ~Datastore() = default;
  // "etcd" or "sqlite": recorded with every snapshot taken from it.
  virtual std::string_view Kind() const = 0;
  // Where it is, for status and logs (an URL or a path; never a password).
  virtual std::string Location() const = 0;
  // Called once at start, before any Snapshot: removes what an interrupted one left.
  virtual void Prepare() {}
  // Streams one consistent copy into `sink` and checks it as it passes. Returns only when the
  // whole copy passed its checks; throws snapd::Error otherwise (the sink then holds a partial
  // stream to discard). `cancel` aborts; `on_size`, when set, is called once with the copy's
  // size as soon as it is known (for progress).
  virtual DatastoreSnapshot Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                                     const std::function<void(uint64_t)>& on_size) = 0;
};

}  // namespace snapd
