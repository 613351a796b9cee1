// Rebuilds an etcd snapshot at a chosen moment: the base restored into a throwaway etcd (Debian's
// etcd-server) on loopback ports of its own, each recorded revision replayed into it as one
// transaction so revision numbers match the original, then a snapshot of it, checked.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "etcd/etcd_client.h"
#include "incremental/increment_chain.h"
#include "incremental/increment_format.h"

namespace snapd {

struct PointInTimeOptions {
  std::string base_path;  // the plain base snapshot, verified
  int64_t base_revision = 0;
  std::string work_dir;  // private scratch; the throwaway's data dir goes under it, removed after
  std::string output_path;           // where the point-in-time snapshot is written (0600)
  std::string etcd_binary = "etcd";  // Debian's etcd-server
  std::string restore_tool;          // etcdutl or etcdctl; "" picks as RestoreEtcdDataDir does
  // A lease a replayed put names that the throwaway does not hold is granted with its original
  // id and this TTL (etcd's events carry no TTL).
  int64_t lease_ttl_seconds = 3600;
};

// Hands the chain's revisions in order, one increment's worth at a time; returns false when the
// chain has no more. Throws (Corrupt) when an increment cannot be read or fails its hash.
using RevisionFeed = std::function<bool(std::vector<RecordedRevision>& batch)>;

struct PointInTimeResult {
  int64_t revision = 0;               // the snapshot's revision: the target's
  int64_t replayed = 0;               // revisions replayed onto the base
  int64_t last_received_unix_ms = 0;  // when the last replayed revision was received (0: none)
  uint64_t size = 0;                  // of the snapshot written
  EtcdKvHash hash_kv;                 // the throwaway's HashKV at the target revision
};

// Replays into the base every fed revision within `target`, stopping at the first beyond it.
// Throws Error::InvalidInput when the feed does not reach a revision target; Error::Corrupt when
// the replay diverges (etcd gives a revision other than the recorded one) or the snapshot fails
// its check; Error::Permanent/NotFound when the throwaway etcd cannot be run. `cancel` stops it;
// the throwaway is stopped and its data removed however it ends. `log` reports each step.
PointInTimeResult BuildPointInTime(const PointInTimeOptions& options, const ReplayTarget& target,
                                   const RevisionFeed& feed, const std::atomic<bool>* cancel,
                                   const std::function<void(const std::string&)>& log);

}  // namespace snapd
