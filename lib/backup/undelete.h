// Undelete: puts a snapshot's value of each chosen key back into the live etcd, only where the key
// does not exist now, so it can never overwrite newer state. This is how one deleted Kubernetes
// object comes back without resetting the cluster.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "etcd/etcd_client.h"
#include "inspect/snapshot_contents.h"

namespace snapd {

struct UndeleteOutcome {
  std::string key;
  bool recreated = false;
  std::string reason;             // why it was skipped
  int64_t revision = 0;           // recreated: the revision of the put; skipped: the live key's
  int64_t snapshot_revision = 0;  // the key's mod revision in the snapshot
};

// For each live key of `contents` equal to `key` (or, with `prefix`, under it): one transaction
// that creates it with the snapshot's value when its create_revision is 0 (absent), else skips it.
// Keys bound to a lease in the snapshot are skipped (the lease is gone with the old state; a
// Kubernetes lease-bound key, an Event or a master lease, is not worth bringing back). Each key
// is logged. kNotFound when the snapshot holds no such key. An etcd error or `cancel` stops it
// between keys: the keys done before stay done and are reported, with the error.
struct UndeleteReport {
  std::vector<UndeleteOutcome> outcomes;
  std::string error;  // why it stopped early; "" when every key was handled
};
UndeleteReport UndeleteKeys(const SnapshotContents& contents, EtcdCoordinationClient& etcd,
                            const std::string& key, bool prefix, const std::string& snapshot_name,
                            const std::atomic<bool>* cancel);

}  // namespace snapd
