// etcd's native gRPC API (what etcdctl uses) over libcurl's HTTP/2: the snapshot without the
// gateway's JSON and base64, which cost etcd about twice the CPU. And the choice between it and
// the gateway (etcd-transport: auto picks gRPC when etcd answers it).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/etcd_client.h"
#include "etcd/etcd_watch.h"

namespace snapd {

class GatewayEtcdClient;

class GrpcEtcdClient final : public EtcdClient,
                             public EtcdCoordinationClient,
                             public EtcdWatcher,
                             public EtcdReplayClient {
 public:
  explicit GrpcEtcdClient(EtcdEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

  void Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                const std::function<void(uint64_t)>& on_size) override;
  EtcdStatus Status(std::chrono::milliseconds timeout) override;
  std::vector<EtcdMember> MemberList(std::chrono::milliseconds timeout) override;
  int64_t LeaseGrant(int64_t ttl_seconds, std::chrono::milliseconds timeout) override;
  int64_t LeaseKeepAliveOnce(int64_t lease_id, std::chrono::milliseconds timeout) override;
  void LeaseRevoke(int64_t lease_id, std::chrono::milliseconds timeout) override;
  EtcdClaim PutIfAbsent(std::string_view key, std::string_view value, int64_t lease_id,
                        std::chrono::milliseconds timeout) override;
  std::optional<EtcdKeyValue> Get(std::string_view key, std::chrono::milliseconds timeout) override;
  void Put(std::string_view key, std::string_view value, int64_t lease_id,
           std::chrono::milliseconds timeout) override;
  bool DeleteIfValue(std::string_view key, std::string_view expected_value,
                     std::chrono::milliseconds timeout) override;
  std::vector<EtcdKeyValue> GetPrefix(std::string_view prefix,
                                      std::chrono::milliseconds timeout) override;
  int64_t DeletePrefix(std::string_view prefix, std::chrono::milliseconds timeout) override;
  EtcdKvHash HashKV(int64_t revision, std::chrono::milliseconds timeout) override;
  void WatchAll(int64_t start_revision, const std::atomic<bool>& stop,
                const std::function<void(EtcdWatchResponse&&)>& on_response) override;
  EtcdRevisionProbe ProbeRevision(int64_t at_revision, std::chrono::milliseconds timeout) override;
  int64_t ApplyRevision(const std::vector<EtcdEvent>& events,
                        std::chrono::milliseconds timeout) override;
  bool LeaseGrantWithId(int64_t id, int64_t ttl_seconds,
                        std::chrono::milliseconds timeout) override;
  std::vector<int64_t> LeaseIds(std::chrono::milliseconds timeout) override;
  void Compact(int64_t revision, std::chrono::milliseconds timeout) override;

 private:
  // A request to `method` ("Service/Method" of etcdserverpb) carrying the framed `body`.
  HttpRequest MakeRequest(const std::string& method, std::string_view body) const;
  // One request message to `method`, one response message back: a unary call, or one exchange
  // on a bidirectional stream whose request side then ends. Returns the response message, or
  // nullopt when etcd answered gRPC status `tolerated_code` with a message containing
  // `tolerated_message`. Errors name `what`.
  std::optional<std::string> Call(const std::string& method, std::string_view message,
                                  std::chrono::milliseconds timeout, const std::string& what,
                                  int tolerated_code = -1, std::string_view tolerated_message = {});
  // "etcd <call> at <url> (gRPC)".
  std::string What(std::string_view call) const;
  EtcdEndpoint endpoint_;
};

// Parses a StatusResponse message (header = 1 {member_id = 2}, version = 2, dbSize = 3,
// leader = 4, raftIndex = 5, isLearner = 10). Throws Error::Corrupt.
EtcdStatus ParseStatusResponse(std::string_view message);

// etcd-transport: auto. Probes gRPC first and uses it when it answers; when it fails but the
// gateway answers (an HTTP/1.1-only proxy in between, say), uses the gateway until the next
// reload. While neither answers, nothing is decided and calls go to gRPC.
class AutoEtcdClient final : public EtcdClient,
                             public EtcdCoordinationClient,
                             public EtcdWatcher,
                             public EtcdReplayClient {
 public:
  explicit AutoEtcdClient(EtcdEndpoint endpoint);
  ~AutoEtcdClient() override;

  void Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                const std::function<void(uint64_t)>& on_size) override;
  EtcdStatus Status(std::chrono::milliseconds timeout) override;
  std::vector<EtcdMember> MemberList(std::chrono::milliseconds timeout) override;
  int64_t LeaseGrant(int64_t ttl_seconds, std::chrono::milliseconds timeout) override;
  int64_t LeaseKeepAliveOnce(int64_t lease_id, std::chrono::milliseconds timeout) override;
  void LeaseRevoke(int64_t lease_id, std::chrono::milliseconds timeout) override;
  EtcdClaim PutIfAbsent(std::string_view key, std::string_view value, int64_t lease_id,
                        std::chrono::milliseconds timeout) override;
  std::optional<EtcdKeyValue> Get(std::string_view key, std::chrono::milliseconds timeout) override;
  void Put(std::string_view key, std::string_view value, int64_t lease_id,
           std::chrono::milliseconds timeout) override;
  bool DeleteIfValue(std::string_view key, std::string_view expected_value,
                     std::chrono::milliseconds timeout) override;
  std::vector<EtcdKeyValue> GetPrefix(std::string_view prefix,
                                      std::chrono::milliseconds timeout) override;
  int64_t DeletePrefix(std::string_view prefix, std::chrono::milliseconds timeout) override;
  EtcdKvHash HashKV(int64_t revision, std::chrono::milliseconds timeout) override;
  void WatchAll(int64_t start_revision, const std::atomic<bool>& stop,
                const std::function<void(EtcdWatchResponse&&)>& on_response) override;
  EtcdRevisionProbe ProbeRevision(int64_t at_revision, std::chrono::milliseconds timeout) override;
  int64_t ApplyRevision(const std::vector<EtcdEvent>& events,
                        std::chrono::milliseconds timeout) override;
  bool LeaseGrantWithId(int64_t id, int64_t ttl_seconds,
                        std::chrono::milliseconds timeout) override;
  std::vector<int64_t> LeaseIds(std::chrono::milliseconds timeout) override;
  void Compact(int64_t revision, std::chrono::milliseconds timeout) override;
  // "grpc", "gateway", or "" while undecided.
  std::string transport() const;

 private:
  EtcdClient& Decide();
  // The same transport's coordination calls.
  EtcdCoordinationClient& DecideCoordination();
  // The gRPC client for the calls only gRPC has; Error::Permanent when auto chose the gateway.
  GrpcEtcdClient& DecideGrpcOnly();
  std::unique_ptr<GrpcEtcdClient> grpc_;
  std::unique_ptr<GatewayEtcdClient> gateway_;
  mutable std::mutex mutex_;
  std::string chosen_;
};

}  // namespace snapd
