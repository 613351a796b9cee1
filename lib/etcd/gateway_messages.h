// etcd's gRPC-gateway JSON for the key-value, lease and cluster calls (proto field names, 64-bit
// integers as strings, bytes as base64, default values omitted). Pure: text in, text out.
// Parsers throw Error::Corrupt for an answer they cannot read, and say which message it was.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/etcd_client.h"

namespace snapd::etcdjson {

// Request bodies, as etcdpb's requests (grpc_messages.h) in JSON.
std::string RangeRequest(std::string_view key, std::string_view range_end = {});
std::string PutRequest(std::string_view key, std::string_view value, int64_t lease);
std::string DeleteRangeRequest(std::string_view key, std::string_view range_end = {});
std::string PutIfAbsentTxn(std::string_view key, std::string_view value, int64_t lease);
std::string DeleteIfValueTxn(std::string_view key, std::string_view expected);
std::string LeaseGrantRequest(int64_t ttl_seconds);
std::string LeaseIdRequest(int64_t lease_id);
std::string HashKVRequest(int64_t revision);

std::vector<EtcdKeyValue> ParseRangeResponse(std::string_view body);
int64_t ParseDeleteRangeResponse(std::string_view body);
EtcdClaim ParsePutIfAbsentResponse(std::string_view body, std::string_view key,
                                   std::string_view value, int64_t lease);
bool ParseDeleteIfValueResponse(std::string_view body);
// Throws Error::Permanent when the answer carries an error.
int64_t ParseLeaseGrantResponse(std::string_view body);
// The keepalive stream's first message, {"result":{...}}: the TTL (0 when etcd no longer knows
// the lease). An {"error":{...}} message throws it as etcd's error.
int64_t ParseLeaseKeepAliveResponse(std::string_view body);
std::vector<EtcdMember> ParseMemberListResponse(std::string_view body);
EtcdKvHash ParseHashKVResponse(std::string_view body, int64_t revision);

}  // namespace snapd::etcdjson
