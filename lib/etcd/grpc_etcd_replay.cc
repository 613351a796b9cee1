// The gRPC calls that replay recorded revisions into an etcd (EtcdReplayClient), and
// AutoEtcdClient's watch and replay calls, which only gRPC serves.
#include <string>

#include "core/error.h"
#include "etcd/grpc_etcd_client.h"
#include "etcd/grpc_messages.h"

namespace snapd {
namespace {

// gRPC OUT_OF_RANGE: etcd's "required revision has been compacted" (and "...is a future
// revision", which stays an error).
constexpr int kOutOfRange = 11;
// gRPC FAILED_PRECONDITION: etcd's "lease already exists".
constexpr int kFailedPrecondition = 9;

}  // namespace

EtcdRevisionProbe GrpcEtcdClient::ProbeRevision(int64_t at_revision,
                                                std::chrono::milliseconds timeout) {
  const std::string what = What("range at revision " + std::to_string(at_revision));
  const std::optional<std::string> message =
      Call("KV/Range", etcdpb::ProbeRangeRequest(at_revision), timeout, what, kOutOfRange,
           "required revision has been compacted");
  if (!message) return EtcdRevisionProbe{0, true};
  try {
    return EtcdRevisionProbe{etcdpb::ParseHeaderRevisionOf(*message, "RangeResponse"), false};
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
}

int64_t GrpcEtcdClient::ApplyRevision(const std::vector<EtcdEvent>& events,
                                      std::chrono::milliseconds timeout) {
  const std::string what = What("txn of " + std::to_string(events.size()) + " recorded events");
  if (events.empty()) throw Error::InvalidInput(what + ": a revision has at least one event");
  const std::string message = *Call("KV/Txn", etcdpb::ApplyEventsTxn(events), timeout, what);
  try {
    return etcdpb::ParseHeaderRevisionOf(message, "TxnResponse");
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
}

bool GrpcEtcdClient::LeaseGrantWithId(int64_t id, int64_t ttl_seconds,
                                      std::chrono::milliseconds timeout) {
  const std::string what = What("grant of lease " + std::to_string(id));
  const std::optional<std::string> message =
      Call("Lease/LeaseGrant", etcdpb::LeaseGrantWithIdRequest(id, ttl_seconds), timeout, what,
           kFailedPrecondition, "lease already exists");
  if (!message) return false;
  try {
    const int64_t granted = etcdpb::ParseLeaseGrantResponse(*message);
    if (granted != id) {
      throw Error::Corrupt("etcd granted lease " + std::to_string(granted) + " instead");
    }
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
  return true;
}

std::vector<int64_t> GrpcEtcdClient::LeaseIds(std::chrono::milliseconds timeout) {
  const std::string what = What("lease list");
  const std::string message = *Call("Lease/LeaseLeases", "", timeout, what);
  try {
    return etcdpb::ParseLeaseLeasesResponse(message);
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
}

void GrpcEtcdClient::Compact(int64_t revision, std::chrono::milliseconds timeout) {
  const std::string what = What("compaction to revision " + std::to_string(revision));
  Call("KV/Compact", etcdpb::CompactionRequest(revision), timeout, what);
}

GrpcEtcdClient& AutoEtcdClient::DecideGrpcOnly() {
  if (&Decide() == static_cast<EtcdClient*>(grpc_.get())) return *grpc_;
  throw Error::Permanent(
      "point-in-time increments need etcd's gRPC API; etcd at this endpoint answers only its "
      "gateway here (etcd-transport auto chose the gateway: an HTTP/1.1-only proxy in between?)");
}

void AutoEtcdClient::WatchAll(int64_t start_revision, const std::atomic<bool>& stop,
                              const std::function<void(EtcdWatchResponse&&)>& on_response) {
  DecideGrpcOnly().WatchAll(start_revision, stop, on_response);
}

EtcdRevisionProbe AutoEtcdClient::ProbeRevision(int64_t at_revision,
                                                std::chrono::milliseconds timeout) {
  return DecideGrpcOnly().ProbeRevision(at_revision, timeout);
}

int64_t AutoEtcdClient::ApplyRevision(const std::vector<EtcdEvent>& events,
                                      std::chrono::milliseconds timeout) {
  return DecideGrpcOnly().ApplyRevision(events, timeout);
}

bool AutoEtcdClient::LeaseGrantWithId(int64_t id, int64_t ttl_seconds,
                                      std::chrono::milliseconds timeout) {
  return DecideGrpcOnly().LeaseGrantWithId(id, ttl_seconds, timeout);
}

std::vector<int64_t> AutoEtcdClient::LeaseIds(std::chrono::milliseconds timeout) {
  return DecideGrpcOnly().LeaseIds(timeout);
}

void AutoEtcdClient::Compact(int64_t revision, std::chrono::milliseconds timeout) {
  DecideGrpcOnly().Compact(revision, timeout);
}

}  // namespace snapd
