// EtcdClient over etcd's HTTP gRPC-gateway (/v3/...), with k3s's client-certificate TLS.
#pragma once

#include "etcd/etcd_client.h"

namespace snapd {

class GatewayEtcdClient final : public EtcdClient {
 public:
  explicit GatewayEtcdClient(EtcdEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

  void Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                const std::function<void(uint64_t)>& on_size) override;
  EtcdStatus Status(std::chrono::milliseconds timeout) override;

 private:
  HttpRequest MakeRequest(const std::string& path) const;

  EtcdEndpoint endpoint_;
};

}  // namespace snapd
