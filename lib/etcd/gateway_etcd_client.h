// EtcdClient over etcd's HTTP gRPC-gateway (/v3/...), with k3s's client-certificate TLS.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/etcd_client.h"

namespace snapd {

class GatewayEtcdClient final : public EtcdClient, public EtcdCoordinationClient {
 public:
  explicit GatewayEtcdClient(EtcdEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

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

 private:
  HttpRequest MakeRequest(const std::string& path) const;
  // POSTs `body` to `path` and returns the answer's body; nullopt when etcd answered an error of
  // gRPC code `tolerated_code`. Errors name `what`.
  std::optional<std::string> Call(const std::string& path, std::string_view body,
                                  std::chrono::milliseconds timeout, const std::string& what,
                                  int tolerated_code = -1);
  // "etcd <call> at <url>".
  std::string What(std::string_view call) const;

  EtcdEndpoint endpoint_;
};

}  // namespace snapd
