// etcd's protobuf messages for the key-value, lease, cluster and watch calls, written and read by
// hand (field numbers from etcd's rpc.proto and kv.proto). Pure: bytes in, bytes out. Parsers throw
// Error::Corrupt for a message they cannot read, and say which message it was.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/etcd_client.h"
#include "etcd/etcd_watch.h"

namespace snapd::etcdpb {

// A message as gRPC sends it: a 0 (uncompressed) byte, its 4-byte big-endian length, itself.
std::string Framed(std::string_view message);

// RangeRequest {key = 1, range_end = 2}; no range_end: the key alone.
std::string RangeRequest(std::string_view key, std::string_view range_end = {});
// PutRequest {key = 1, value = 2, lease = 3}.
std::string PutRequest(std::string_view key, std::string_view value, int64_t lease);
// DeleteRangeRequest {key = 1, range_end = 2}.
std::string DeleteRangeRequest(std::string_view key, std::string_view range_end = {});
// TxnRequest: if create_revision(key) == 0 then put(key, value, lease) else range(key).
std::string PutIfAbsentTxn(std::string_view key, std::string_view value, int64_t lease);
// TxnRequest: if value(key) == expected then delete(key).
std::string DeleteIfValueTxn(std::string_view key, std::string_view expected);
// LeaseGrantRequest {TTL = 1}.
std::string LeaseGrantRequest(int64_t ttl_seconds);
// LeaseKeepAliveRequest and LeaseRevokeRequest, both {ID = 1}.
std::string LeaseIdRequest(int64_t lease_id);
// HashKVRequest {revision = 1}.
std::string HashKVRequest(int64_t revision);

// RangeRequest {key = 1, limit = 3, revision = 4, count_only = 9} of the one key "\0" at
// `revision` (0: the newest): the cheapest call that says whether `revision` was compacted.
std::string ProbeRangeRequest(int64_t revision);
// TxnRequest with no compare whose success ops are the events in order: put(key, value, lease)
// for a put, delete_range(key) for a delete.
std::string ApplyEventsTxn(const std::vector<EtcdEvent>& events);
// LeaseGrantRequest {TTL = 1, ID = 2}.
std::string LeaseGrantWithIdRequest(int64_t lease_id, int64_t ttl_seconds);
// CompactionRequest {revision = 1, physical = 2}: physical, so it returns once the compaction
// is done on disk.
std::string CompactionRequest(int64_t revision);
// WatchRequest {create_request = 1 {key = 1, range_end = 2, start_revision = 3}} of every key
// ("\0" to "\0") from `start_revision` on.
std::string WatchAllRequest(int64_t start_revision);

// The revision in the header (field 1) of any response: RangeResponse, TxnResponse, ...
int64_t ParseHeaderRevisionOf(std::string_view message, std::string_view message_name);
// RangeResponse: its kvs.
std::vector<EtcdKeyValue> ParseRangeResponse(std::string_view message);
// DeleteRangeResponse: how many keys it deleted.
int64_t ParseDeleteRangeResponse(std::string_view message);
// The TxnResponse to PutIfAbsentTxn(key, value, lease).
EtcdClaim ParsePutIfAbsentResponse(std::string_view message, std::string_view key,
                                   std::string_view value, int64_t lease);
// The TxnResponse to DeleteIfValueTxn: whether it deleted.
bool ParseDeleteIfValueResponse(std::string_view message);
// LeaseGrantResponse: the lease id. Throws Error::Permanent when it carries an error.
int64_t ParseLeaseGrantResponse(std::string_view message);
// LeaseKeepAliveResponse: the TTL (0 when etcd no longer knows the lease).
int64_t ParseLeaseKeepAliveResponse(std::string_view message);
// HashKVResponse {header = 1, hash = 2, compact_revision = 3}; `revision` is the one asked for.
EtcdKvHash ParseHashKVResponse(std::string_view message, int64_t revision);
// MemberListResponse: its members.
std::vector<EtcdMember> ParseMemberListResponse(std::string_view message);
// LeaseLeasesResponse {header = 1, leases = 2 {ID = 1}}: the lease ids.
std::vector<int64_t> ParseLeaseLeasesResponse(std::string_view message);

// WatchResponse {header = 1, watch_id = 2, created = 3, canceled = 4, compact_revision = 5,
// cancel_reason = 6, fragment = 7, events = 11}.
struct WatchResponse {
  int64_t header_revision = 0;
  int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;
  std::string cancel_reason;
  bool fragment = false;
  std::vector<EtcdEvent> events;  // mvccpb.Event {type = 1 (0 PUT, 1 DELETE), kv = 2}
};
WatchResponse ParseWatchResponse(std::string_view message);

}  // namespace snapd::etcdpb
