// etcd's protobuf messages for the key-value, lease and cluster calls, written and read by hand
// (field numbers from etcd's rpc.proto and kv.proto). Pure: bytes in, bytes out. Parsers throw
// Error::Corrupt for a message they cannot read, and say which message it was.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/etcd_client.h"

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

}  // namespace snapd::etcdpb
