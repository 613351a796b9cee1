// What k3s-snapd needs from etcd: a snapshot stream and a health/status probe. An interface so
// the backup layer can be tested against faulty etcds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/byte_sink.h"
#include "http/http_client.h"

namespace snapd {

struct EtcdStatus {
  std::string version;
  uint64_t db_size = 0;
  uint64_t leader = 0;
  uint64_t member_id = 0;
  uint64_t raft_index = 0;
};

struct EtcdEndpoint {
  std::string url;  // "https://127.0.0.1:2379"
  TlsOptions tls;
  // A snapshot stream that moves less than a byte a second this long fails (etcd-stall-timeout).
  std::chrono::seconds stall_timeout{60};
};

class EtcdClient {
 public:
  virtual ~EtcdClient() = default;
  // Streams the snapshot (data, then the 32-byte SHA-256 trailer) into `sink`. Returns only
  // when etcd sent the whole stream; throws snapd::Error when it did not (the sink then holds
  // a partial stream that must be discarded). `cancel` aborts the transfer. `on_size`, when set,
  // is called once with the whole stream's size as soon as etcd announces it (for progress).
  virtual void Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                        const std::function<void(uint64_t)>& on_size) = 0;
  // Throws when etcd cannot be reached or answers an error.
  virtual EtcdStatus Status(std::chrono::milliseconds timeout) = 0;
};

}  // namespace snapd
