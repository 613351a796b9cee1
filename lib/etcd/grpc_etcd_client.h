// etcd's native gRPC API (what etcdctl uses) over libcurl's HTTP/2: the snapshot without the
// gateway's JSON and base64, which cost etcd about twice the CPU. And the choice between it and
// the gateway (etcd-transport: auto picks gRPC when etcd answers it).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "etcd/etcd_client.h"

namespace snapd {

class GrpcEtcdClient final : public EtcdClient {
 public:
  explicit GrpcEtcdClient(EtcdEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

  void Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                const std::function<void(uint64_t)>& on_size) override;
  EtcdStatus Status(std::chrono::milliseconds timeout) override;

 private:
  HttpRequest MakeRequest(const std::string& method) const;
  EtcdEndpoint endpoint_;
};

// Parses a StatusResponse message (header = 1 {member_id = 2}, version = 2, dbSize = 3,
// leader = 4, raftIndex = 5). Throws Error::Corrupt.
EtcdStatus ParseStatusResponse(std::string_view message);

// etcd-transport: auto. Probes gRPC first and uses it when it answers; when it fails but the
// gateway answers (an HTTP/1.1-only proxy in between, say), uses the gateway until the next
// reload. While neither answers, nothing is decided and calls go to gRPC.
class AutoEtcdClient final : public EtcdClient {
 public:
  explicit AutoEtcdClient(EtcdEndpoint endpoint);
  ~AutoEtcdClient() override;

  void Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                const std::function<void(uint64_t)>& on_size) override;
  EtcdStatus Status(std::chrono::milliseconds timeout) override;
  // "grpc", "gateway", or "" while undecided.
  std::string transport() const;

 private:
  EtcdClient& Decide();
  std::unique_ptr<EtcdClient> grpc_;
  std::unique_ptr<EtcdClient> gateway_;
  mutable std::mutex mutex_;
  std::string chosen_;
};

}  // namespace snapd
