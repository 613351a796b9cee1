// Decides, through etcd, which server uploads a scheduled run when several servers of one etcd
// cluster take it: the first to create the run's claim key, attached to a lease it keeps alive
// while it uploads. A holder that dies or gives up loses the key with its lease, and another
// server takes the run over.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "coordination/upload_claim.h"
#include "etcd/etcd_client.h"

namespace snapd {

struct UploadCoordinatorOptions {
  std::string node_name;
  std::string destination_id;  // S3DestinationId of the S3 store
  // The claim's lease: how soon another server takes over from a holder that died.
  std::chrono::seconds lease_ttl{10};
  // How long a finished claim stays, for the other servers to see who uploaded.
  std::chrono::seconds ready_ttl{3600};
  std::chrono::milliseconds call_timeout{5000};
};

// A claim this server won: its lease is renewed on a thread of its own until MarkReady, or
// revoked when dropped without it (the run is then taken over at once).
class HeldClaim {
 public:
  HeldClaim(EtcdCoordinationClient& etcd, const UploadCoordinatorOptions& options, std::string key,
            int64_t lease);
  ~HeldClaim();
  HeldClaim(const HeldClaim&) = delete;
  HeldClaim& operator=(const HeldClaim&) = delete;

  // The run is in S3 as `snapshot`: the claim says so for ready_ttl, and its lease ends.
  // Throws when etcd cannot be told (the claim then ends with its lease; another server may
  // upload the run again, which is harmless).
  void MarkReady(const std::string& snapshot);
  // False once a renewal found the lease gone: another server may be uploading too.
  bool alive() const;

 private:
  void RenewLoop();
  void StopRenewing();

  EtcdCoordinationClient& etcd_;
  const UploadCoordinatorOptions& options_;
  std::string key_;
  int64_t lease_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool alive_ = true;
  bool ready_ = false;
  std::thread renewer_;
};

class UploadCoordinator {
 public:
  enum class Role {
    kAlone,     // not an HA cluster (one voting member), or etcd could not say: upload
    kLearner,   // this member is a raft learner: no scheduled snapshot at all, as k3s
    kUploader,  // this server won the run's claim: upload
    kFollower,  // another server holds it: keep the snapshot locally, watch the claim
  };
  struct Decision {
    Role role = Role::kAlone;
    std::unique_ptr<HeldClaim> claim;  // kUploader only
    std::string holder;                // kFollower: the node holding the claim
    std::string reason;                // for the log
  };

  // `member` (this server's etcd member, for its status) and `etcd` must outlive this; both are
  // usually the same client.
  UploadCoordinator(EtcdClient& member, EtcdCoordinationClient& etcd,
                    UploadCoordinatorOptions options);

  // Before the scheduled save of the run at `fire_unix`: the cluster's shape (is this member a
  // learner, how many vote), then the claim.
  Decision Decide(int64_t fire_unix);
  // Claims the run for a takeover: a HeldClaim, or null when another server holds it now
  // (`holder` says which).
  std::unique_ptr<HeldClaim> TryClaim(int64_t fire_unix, std::string* holder);
  // What the run's claim says now, for a server that did not win it; `claim` gets its value
  // when it can be read. Throws when etcd cannot be asked.
  ClaimFollowUp Check(int64_t fire_unix, std::optional<UploadClaim>* claim);

  const UploadCoordinatorOptions& options() const { return options_; }

 private:
  EtcdClient& member_;
  EtcdCoordinationClient& etcd_;
  UploadCoordinatorOptions options_;
};

}  // namespace snapd
