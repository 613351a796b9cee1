// UploadCoordinator and HeldClaim over EtcdCoordinationClient: member list, lease, one
// put-if-absent transaction per claim.
#include "coordination/upload_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/error.h"

namespace snapd {

HeldClaim::HeldClaim(EtcdCoordinationClient& etcd, const UploadCoordinatorOptions& options,
                     std::string key, int64_t lease)
    : etcd_(etcd), options_(options), key_(std::move(key)), lease_(lease) {
  renewer_ = std::thread([this] { RenewLoop(); });
}

HeldClaim::~HeldClaim() {
  StopRenewing();
  bool ready;
  {
    std::lock_guard lock(mutex_);
    ready = ready_;
  }
  if (ready) return;
  // Given up (the upload failed, or the save): the key goes with the lease, now rather than
  // when it expires, so another server takes the run over at once.
  try {
    etcd_.LeaseRevoke(lease_, options_.call_timeout);
  } catch (const std::exception& e) {
    spdlog::warn("upload claim {}: cannot revoke its lease (it expires within {} s): {}", key_,
                 options_.lease_ttl.count(), e.what());
  }
}

bool HeldClaim::alive() const {
  std::lock_guard lock(mutex_);
  return alive_;
}

void HeldClaim::MarkReady(const std::string& snapshot) {
  StopRenewing();
  const UploadClaim ready{options_.node_name, snapshot, UploadClaim::State::kReady};
  const int64_t ready_lease = etcd_.LeaseGrant(options_.ready_ttl.count(), options_.call_timeout);
  etcd_.Put(key_, FormatUploadClaim(ready), ready_lease, options_.call_timeout);
  {
    std::lock_guard lock(mutex_);
    ready_ = true;
  }
  // The key now lives on the ready lease; the claim's own lease holds nothing any more.
  try {
    etcd_.LeaseRevoke(lease_, options_.call_timeout);
  } catch (const std::exception& e) {
    spdlog::debug("upload claim {}: revoke of the spent lease: {}", key_, e.what());
  }
}

void HeldClaim::StopRenewing() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

void HeldClaim::RenewLoop() {
  // Three renewals per TTL: one lost call does not lose the claim.
  const auto period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(200),
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.lease_ttl) / 3);
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    bool gone = false;
    try {
      gone = etcd_.LeaseKeepAliveOnce(lease_, options_.call_timeout) <= 0;
    } catch (const Error& e) {
      gone = e.kind() == ErrorKind::kNotFound;
      if (!gone) spdlog::warn("upload claim {}: renewal failed: {}", key_, e.what());
    }
    lock.lock();
    if (gone && alive_) {
      alive_ = false;
      spdlog::warn("upload claim {}: its lease is gone; another server may upload this run too",
                   key_);
    }
  }
}

UploadCoordinator::UploadCoordinator(EtcdClient& member, EtcdCoordinationClient& etcd,
                                     UploadCoordinatorOptions options)
    : member_(member), etcd_(etcd), options_(std::move(options)) {}

UploadCoordinator::Decision UploadCoordinator::Decide(int64_t fire_unix) {
  Decision decision;
  uint64_t member_id = 0;
  std::vector<EtcdMember> members;
  try {
    const EtcdStatus status = member_.Status(options_.call_timeout);
    if (status.is_learner) {
      decision.role = Role::kLearner;
      decision.reason = "this etcd member is a learner: no scheduled snapshot, as k3s";
      return decision;
    }
    member_id = status.member_id;
    members = etcd_.MemberList(options_.call_timeout);
  } catch (const std::exception& e) {
    // Better the run uploaded twice than not at all.
    decision.reason = std::string("cannot read etcd's members, uploading: ") + e.what();
    return decision;
  }
  const auto voting = std::count_if(members.begin(), members.end(),
                                    [](const EtcdMember& m) { return !m.is_learner; });
  for (const EtcdMember& m : members) {
    if (m.id == member_id && m.is_learner) {
      decision.role = Role::kLearner;
      decision.reason = "this etcd member is a learner: no scheduled snapshot, as k3s";
      return decision;
    }
  }
  if (voting <= 1) {
    decision.reason = "one voting etcd member";
    return decision;
  }
  try {
    decision.claim = TryClaim(fire_unix, &decision.holder);
  } catch (const std::exception& e) {
    decision.reason = std::string("cannot claim the upload in etcd, uploading: ") + e.what();
    return decision;
  }
  decision.role = decision.claim ? Role::kUploader : Role::kFollower;
  decision.reason =
      decision.claim ? "won the upload claim" : "the upload claim is held by " + decision.holder;
  return decision;
}

std::unique_ptr<HeldClaim> UploadCoordinator::TryClaim(int64_t fire_unix, std::string* holder) {
  const std::string key = UploadClaimKey(options_.destination_id, fire_unix);
  const int64_t lease = etcd_.LeaseGrant(options_.lease_ttl.count(), options_.call_timeout);
  const UploadClaim mine{options_.node_name, "", UploadClaim::State::kUploading};
  EtcdClaim claim;
  try {
    claim = etcd_.PutIfAbsent(key, FormatUploadClaim(mine), lease, options_.call_timeout);
  } catch (...) {
    try {
      etcd_.LeaseRevoke(lease, options_.call_timeout);
    } catch (const std::exception&) {
      // It expires by itself.
    }
    throw;
  }
  if (claim.created) return std::make_unique<HeldClaim>(etcd_, options_, key, lease);
  try {
    etcd_.LeaseRevoke(lease, options_.call_timeout);
  } catch (const std::exception&) {
    // Unused, it expires by itself.
  }
  if (holder != nullptr) {
    std::optional<UploadClaim> theirs = ParseUploadClaim(claim.kv.value);
    *holder = theirs ? theirs->node : "another server";
  }
  return nullptr;
}

ClaimFollowUp UploadCoordinator::Check(int64_t fire_unix, std::optional<UploadClaim>* claim) {
  std::optional<EtcdKeyValue> kv =
      etcd_.Get(UploadClaimKey(options_.destination_id, fire_unix), options_.call_timeout);
  std::optional<std::string> value;
  if (kv) value = kv->value;
  if (claim != nullptr) *claim = kv ? ParseUploadClaim(kv->value) : std::nullopt;
  return FollowUp(value);
}

}  // namespace snapd
