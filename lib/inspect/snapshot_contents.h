// What inspect, get, diff and undelete read from a snapshot, from etcd or kine alike: the live
// keys at the snapshot's revision, its revisions, and etcd's HashKV computed offline.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace snapd {

// One key as it was at the snapshot's revision; views valid while the contents live.
struct LiveKey {
  std::string_view key, value;
  int64_t create_revision = 0, mod_revision = 0, version = 0, lease = 0;
};

// What etcd's Maintenance.HashKV answers: hash, the revision hashed, and the compact revision
// (as etcd reports it: -1 when the store was never compacted).
struct KvHash {
  uint32_t hash = 0;
  int64_t revision = 0;
  int64_t compact_revision = 0;
};

class SnapshotContents {
 public:
  virtual ~SnapshotContents() = default;
  virtual int64_t revision() const = 0;           // newest revision stored
  virtual int64_t compact_revision() const = 0;   // 0 when never compacted
  virtual uint64_t stored_revisions() const = 0;  // rows/entries in the history (incl. tombstones)
  // Live keys (newest entry of each key, unless a tombstone) under `prefix` ("" = all), in key
  // order. With exact=true only the key equal to `prefix`. Throws Error (Corrupt) on bad data.
  virtual void ForEachLive(std::string_view prefix, bool exact,
                           const std::function<void(const LiveKey&)>& visit) const = 0;
  // etcd's HashKV at `revision` (0 = the snapshot's revision); nullopt for kine (no such hash).
  // Throws InvalidInput when revision <= compact_revision or > revision().
  virtual std::optional<KvHash> HashKV(int64_t revision = 0) const = 0;
};

// Opens a plain (already decoded) snapshot file: etcd's bbolt file (mmap'd; etcdctl's 32-byte
// SHA-256 trailer may follow the db and is ignored) or a kine SQLite database (read-only via
// libsqlite3, never modifying it, no -wal/-shm files left behind). Detects which by content.
// Throws Error: NotFound when there is no such file, Corrupt when it is neither or is damaged.
std::unique_ptr<SnapshotContents> OpenSnapshotContents(const std::string& path);

// The same over bytes in memory (etcd bbolt only), for tests and the fuzz target. `data` must
// outlive the result.
std::unique_ptr<SnapshotContents> EtcdSnapshotContents(std::span<const uint8_t> data);

}  // namespace snapd
