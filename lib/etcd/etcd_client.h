// What k3s-snapd needs from etcd: a snapshot stream and a health/status probe (EtcdClient), and
// the few membership, lease and key-value calls that let several servers agree which one uploads
// a scheduled snapshot (EtcdCoordinationClient). Interfaces so callers can be tested against
// faulty etcds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_sink.h"
#include "http/http_client.h"

namespace snapd {

struct EtcdStatus {
  std::string version;
  uint64_t db_size = 0;
  uint64_t leader = 0;
  uint64_t member_id = 0;
  uint64_t raft_index = 0;
  bool is_learner = false;  // the answering member is a raft learner (etcd 3.4+)
};

struct EtcdMember {
  uint64_t id = 0;
  std::string name;  // empty while the member has not started
  bool is_learner = false;
};

// A key as etcd holds it. Keys and values are arbitrary bytes.
struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t lease = 0;  // 0: none
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
};

// What PutIfAbsent found: whether this call created the key, and the key as it now is (when
// created: what this call wrote, its revisions those of the write; otherwise the value, lease
// and revisions of whoever holds it).
struct EtcdClaim {
  bool created = false;
  EtcdKeyValue kv;
};

// etcd's HashKV: CRC-32C of the MVCC key space up to `revision`, as every member computes it.
struct EtcdKvHash {
  uint32_t hash = 0;
  int64_t revision = 0;          // the revision it was computed at
  int64_t compact_revision = 0;  // etcd's compact revision then (-1 or 0: never compacted)
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

// The membership, lease and key-value calls that let several servers agree which one uploads a
// scheduled snapshot. Apart from EtcdClient, so the backup layer's test doubles need none of
// them. Every call throws snapd::Error naming the call and the endpoint: kTransient when etcd
// cannot be reached, times out or is unavailable (no leader), kNotFound when etcd says a lease
// is unknown (a put with an expired lease), kCorrupt for an answer that cannot be read,
// kPermanent for other refusals. `timeout` bounds the whole call.
class EtcdCoordinationClient {
 public:
  virtual ~EtcdCoordinationClient() = default;

  // The cluster's members, voting and learners.
  virtual std::vector<EtcdMember> MemberList(std::chrono::milliseconds timeout) = 0;

  // Grants a lease of `ttl_seconds` (etcd may round it up); returns its id.
  virtual int64_t LeaseGrant(int64_t ttl_seconds, std::chrono::milliseconds timeout) = 0;
  // Renews the lease once; returns its TTL from now, 0 or less when the lease is gone.
  virtual int64_t LeaseKeepAliveOnce(int64_t lease_id, std::chrono::milliseconds timeout) = 0;
  // Revokes the lease, deleting the keys attached to it. A lease already gone is no error.
  virtual void LeaseRevoke(int64_t lease_id, std::chrono::milliseconds timeout) = 0;

  // In one transaction: creates `key` with `value`, attached to `lease_id` (0: none), unless the
  // key exists; then returns it as it is.
  virtual EtcdClaim PutIfAbsent(std::string_view key, std::string_view value, int64_t lease_id,
                                std::chrono::milliseconds timeout) = 0;
  // The key, or nullopt when absent.
  virtual std::optional<EtcdKeyValue> Get(std::string_view key,
                                          std::chrono::milliseconds timeout) = 0;
  // Sets the key, attached to `lease_id` (0: none).
  virtual void Put(std::string_view key, std::string_view value, int64_t lease_id,
                   std::chrono::milliseconds timeout) = 0;
  // In one transaction: deletes the key if its value is `expected_value`. Returns whether it did
  // (false when the key is absent or holds another value).
  virtual bool DeleteIfValue(std::string_view key, std::string_view expected_value,
                             std::chrono::milliseconds timeout) = 0;
  // Every key starting with `prefix` (not empty), in key order.
  virtual std::vector<EtcdKeyValue> GetPrefix(std::string_view prefix,
                                              std::chrono::milliseconds timeout) = 0;
  // Deletes every key starting with `prefix` (not empty); returns how many it deleted.
  virtual int64_t DeletePrefix(std::string_view prefix, std::chrono::milliseconds timeout) = 0;
  // HashKV at `revision`: what a snapshot taken at that revision must hash to. kPermanent with
  // etcd's reason when etcd compacted past `revision` ("...has been compacted") or has not
  // reached it. etcd 3.4's gateway has no route to it (kPermanent there); its gRPC serves it.
  virtual EtcdKvHash HashKV(int64_t revision, std::chrono::milliseconds timeout) = 0;
};

// The range_end that makes [prefix, range_end) every key starting with `prefix`: the prefix with
// trailing 0xff bytes dropped and its last byte plus one ("\0", all keys from it on, when
// nothing is left). Throws Error::InvalidInput for an empty prefix (every key: never meant).
std::string EtcdPrefixEnd(std::string_view prefix);

// `key` for an error message: printable ASCII as is, other bytes as \xNN, at most 200 bytes.
std::string EtcdKeyForMessage(std::string_view key);

}  // namespace snapd
