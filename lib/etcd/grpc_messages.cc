// Encoding and parsing of etcd's KV, Lease, Cluster and Watch messages over ProtobufReader/Writer.
#include "etcd/grpc_messages.h"

#include <initializer_list>
#include <utility>

#include "core/error.h"
#include "etcd/protobuf_wire.h"

namespace snapd::etcdpb {
namespace {

// Compare.CompareTarget and Compare.CompareResult values.
constexpr uint64_t kCompareEqual = 0;
constexpr uint64_t kTargetCreate = 1;
constexpr uint64_t kTargetValue = 3;

[[noreturn]] void WrongType(std::string_view message_name, const ProtobufField& field) {
  throw Error::Corrupt("etcd " + std::string(message_name) + ": field " +
                       std::to_string(field.number) + " has wire type " +
                       std::to_string(field.wire_type));
}

// Calls `on_field` for every field of `message`, checking that each one `wants` names (number,
// wire type: 0 varint, 2 length-delimited) has that type. Errors name `message_name`.
template <typename OnField>
void ForEachField(std::string_view message, std::string_view message_name,
                  std::initializer_list<std::pair<uint32_t, uint32_t>> wants, OnField&& on_field) {
  ProtobufReader reader(message);
  ProtobufField field;
  while (true) {
    try {
      if (!reader.Next(field)) return;
    } catch (const Error& e) {
      throw e.WithContext("etcd " + std::string(message_name));
    }
    for (const auto& [number, wire_type] : wants) {
      if (field.number == number && field.wire_type != wire_type) WrongType(message_name, field);
    }
    on_field(field);
  }
}

int64_t Signed(const ProtobufField& field) {
  return static_cast<int64_t>(field.number_value);
}

// ResponseHeader {revision = 3}.
int64_t ParseHeaderRevision(std::string_view message) {
  int64_t revision = 0;
  ForEachField(message, "ResponseHeader", {{3, 0}}, [&](const ProtobufField& f) {
    if (f.number == 3) revision = Signed(f);
  });
  return revision;
}

// mvccpb.KeyValue {key = 1, create_revision = 2, mod_revision = 3, version = 4, value = 5,
// lease = 6}.
EtcdKeyValue ParseKeyValue(std::string_view message) {
  EtcdKeyValue kv;
  ForEachField(message, "KeyValue", {{1, 2}, {2, 0}, {3, 0}, {4, 0}, {5, 2}, {6, 0}},
               [&](const ProtobufField& f) {
                 switch (f.number) {
                   case 1:
                     kv.key.assign(f.bytes_value);
                     break;
                   case 2:
                     kv.create_revision = Signed(f);
                     break;
                   case 3:
                     kv.mod_revision = Signed(f);
                     break;
                   case 4:
                     kv.version = Signed(f);
                     break;
                   case 5:
                     kv.value.assign(f.bytes_value);
                     break;
                   case 6:
                     kv.lease = Signed(f);
                     break;
                   default:
                     break;
                 }
               });
  return kv;
}

// TxnResponse {header = 1, succeeded = 2, responses = 3}: the parts our transactions read.
struct TxnResult {
  int64_t revision = 0;
  bool succeeded = false;
  std::vector<std::string_view> responses;  // ResponseOp messages
};

TxnResult ParseTxnResponse(std::string_view message) {
  TxnResult result;
  ForEachField(message, "TxnResponse", {{1, 2}, {2, 0}, {3, 2}}, [&](const ProtobufField& f) {
    if (f.number == 1) result.revision = ParseHeaderRevision(f.bytes_value);
    if (f.number == 2) result.succeeded = f.number_value != 0;
    if (f.number == 3) result.responses.push_back(f.bytes_value);
  });
  return result;
}

// The start of a Compare on `key`: result EQUAL and `target`; the caller appends the value.
std::string Compare(uint64_t target, std::string_view key) {
  ProtobufWriter compare;
  compare.Varint(1, kCompareEqual).Varint(2, target).Bytes(3, key);
  return compare.message();
}

}  // namespace

std::string Framed(std::string_view message) {
  std::string out(1, '\0');
  const auto size = static_cast<uint32_t>(message.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((size >> shift) & 0xff);
  out.append(message);
  return out;
}

std::string RangeRequest(std::string_view key, std::string_view range_end) {
  ProtobufWriter request;
  request.Bytes(1, key);
  if (!range_end.empty()) request.Bytes(2, range_end);
  return request.message();
}

std::string PutRequest(std::string_view key, std::string_view value, int64_t lease) {
  ProtobufWriter request;
  request.Bytes(1, key).Bytes(2, value);
  if (lease != 0) request.Varint(3, static_cast<uint64_t>(lease));
  return request.message();
}

std::string DeleteRangeRequest(std::string_view key, std::string_view range_end) {
  ProtobufWriter request;
  request.Bytes(1, key);
  if (!range_end.empty()) request.Bytes(2, range_end);
  return request.message();
}

std::string PutIfAbsentTxn(std::string_view key, std::string_view value, int64_t lease) {
  // Compare.create_revision = 5: a oneof member, written even though it is 0.
  const std::string compare = Compare(kTargetCreate, key) + ProtobufWriter().Varint(5, 0).message();
  ProtobufWriter txn;
  txn.Bytes(1, compare)
      .Bytes(2, ProtobufWriter().Bytes(2, PutRequest(key, value, lease)).message())  // request_put
      .Bytes(3, ProtobufWriter().Bytes(1, RangeRequest(key)).message());  // request_range
  return txn.message();
}

std::string DeleteIfValueTxn(std::string_view key, std::string_view expected) {
  // Compare.value = 7: a oneof member, written even when empty.
  const std::string compare =
      Compare(kTargetValue, key) + ProtobufWriter().Bytes(7, expected).message();
  ProtobufWriter txn;
  txn.Bytes(1, compare)
      .Bytes(2,
             ProtobufWriter().Bytes(3, DeleteRangeRequest(key)).message());  // request_delete_range
  return txn.message();
}

std::string ProbeRangeRequest(int64_t revision) {
  ProtobufWriter request;
  request.Bytes(1, std::string_view("\0", 1)).Varint(3, 1);
  if (revision != 0) request.Varint(4, static_cast<uint64_t>(revision));
  request.Varint(9, 1);
  return request.message();
}

std::string ApplyEventsTxn(const std::vector<EtcdEvent>& events) {
  ProtobufWriter txn;
  for (const EtcdEvent& event : events) {
    // RequestOp {request_put = 2, request_delete_range = 3}.
    if (event.is_delete) {
      txn.Bytes(2, ProtobufWriter().Bytes(3, DeleteRangeRequest(event.kv.key)).message());
    } else {
      txn.Bytes(2, ProtobufWriter()
                       .Bytes(2, PutRequest(event.kv.key, event.kv.value, event.kv.lease))
                       .message());
    }
  }
  return txn.message();
}

std::string LeaseGrantWithIdRequest(int64_t lease_id, int64_t ttl_seconds) {
  return ProtobufWriter()
      .Varint(1, static_cast<uint64_t>(ttl_seconds))
      .Varint(2, static_cast<uint64_t>(lease_id))
      .message();
}

std::string CompactionRequest(int64_t revision) {
  return ProtobufWriter().Varint(1, static_cast<uint64_t>(revision)).Varint(2, 1).message();
}

std::string WatchAllRequest(int64_t start_revision) {
  const std::string_view all_keys("\0", 1);
  ProtobufWriter create;
  create.Bytes(1, all_keys).Bytes(2, all_keys);
  if (start_revision != 0) create.Varint(3, static_cast<uint64_t>(start_revision));
  return ProtobufWriter().Bytes(1, create.message()).message();
}

int64_t ParseHeaderRevisionOf(std::string_view message, std::string_view message_name) {
  int64_t revision = 0;
  ForEachField(message, message_name, {{1, 2}}, [&](const ProtobufField& f) {
    if (f.number == 1) revision = ParseHeaderRevision(f.bytes_value);
  });
  if (revision == 0) throw Error::Corrupt("etcd " + std::string(message_name) + ": no revision");
  return revision;
}

std::string LeaseGrantRequest(int64_t ttl_seconds) {
  return ProtobufWriter().Varint(1, static_cast<uint64_t>(ttl_seconds)).message();
}

std::string LeaseIdRequest(int64_t lease_id) {
  return ProtobufWriter().Varint(1, static_cast<uint64_t>(lease_id)).message();
}

std::string HashKVRequest(int64_t revision) {
  return ProtobufWriter().Varint(1, static_cast<uint64_t>(revision)).message();
}

EtcdKvHash ParseHashKVResponse(std::string_view message, int64_t revision) {
  EtcdKvHash hash;
  hash.revision = revision;
  bool has_hash = false;
  ForEachField(message, "HashKVResponse", {{2, 0}, {3, 0}}, [&](const ProtobufField& f) {
    if (f.number == 2) {
      hash.hash = static_cast<uint32_t>(f.number_value);
      has_hash = true;
    }
    if (f.number == 3) hash.compact_revision = Signed(f);
  });
  // A hash of 0 is possible in principle but proto3 would omit it; CRC-32C of the bucket name
  // alone is not 0, so a missing field means a message that is not a HashKVResponse.
  if (!has_hash) throw Error::Corrupt("etcd HashKVResponse: no hash");
  return hash;
}

std::vector<EtcdKeyValue> ParseRangeResponse(std::string_view message) {
  std::vector<EtcdKeyValue> kvs;
  ForEachField(message, "RangeResponse", {{2, 2}}, [&](const ProtobufField& f) {
    if (f.number == 2) kvs.push_back(ParseKeyValue(f.bytes_value));
  });
  return kvs;
}

int64_t ParseDeleteRangeResponse(std::string_view message) {
  int64_t deleted = 0;
  ForEachField(message, "DeleteRangeResponse", {{2, 0}}, [&](const ProtobufField& f) {
    if (f.number == 2) deleted = Signed(f);
  });
  return deleted;
}

EtcdClaim ParsePutIfAbsentResponse(std::string_view message, std::string_view key,
                                   std::string_view value, int64_t lease) {
  const TxnResult txn = ParseTxnResponse(message);
  EtcdClaim claim;
  if (txn.succeeded) {
    claim.created = true;
    claim.kv =
        EtcdKeyValue{std::string(key), std::string(value), lease, txn.revision, txn.revision, 1};
    return claim;
  }
  // The failure branch's one ResponseOp {response_range = 1}.
  std::vector<EtcdKeyValue> kvs;
  for (std::string_view op : txn.responses) {
    ForEachField(op, "ResponseOp", {{1, 2}}, [&](const ProtobufField& f) {
      if (f.number == 1) kvs = ParseRangeResponse(f.bytes_value);
    });
  }
  if (kvs.size() != 1) {
    throw Error::Corrupt("etcd TxnResponse: the key exists, but its range answered " +
                         std::to_string(kvs.size()) + " keys");
  }
  claim.kv = std::move(kvs.front());
  return claim;
}

bool ParseDeleteIfValueResponse(std::string_view message) {
  return ParseTxnResponse(message).succeeded;
}

int64_t ParseLeaseGrantResponse(std::string_view message) {
  int64_t id = 0;
  std::string error;
  ForEachField(message, "LeaseGrantResponse", {{2, 0}, {4, 2}}, [&](const ProtobufField& f) {
    if (f.number == 2) id = Signed(f);
    if (f.number == 4) error.assign(f.bytes_value);
  });
  if (!error.empty()) throw Error::Permanent("etcd refused the lease: " + error.substr(0, 300));
  if (id == 0) throw Error::Corrupt("etcd LeaseGrantResponse: no lease id");
  return id;
}

int64_t ParseLeaseKeepAliveResponse(std::string_view message) {
  int64_t ttl = 0;
  ForEachField(message, "LeaseKeepAliveResponse", {{3, 0}}, [&](const ProtobufField& f) {
    if (f.number == 3) ttl = Signed(f);
  });
  return ttl;
}

std::vector<EtcdMember> ParseMemberListResponse(std::string_view message) {
  std::vector<EtcdMember> members;
  ForEachField(message, "MemberListResponse", {{2, 2}}, [&](const ProtobufField& f) {
    if (f.number != 2) return;
    EtcdMember& member = members.emplace_back();
    // Member {ID = 1, name = 2, peerURLs = 3, clientURLs = 4, isLearner = 5}.
    ForEachField(f.bytes_value, "Member", {{1, 0}, {2, 2}, {5, 0}}, [&](const ProtobufField& m) {
      if (m.number == 1) member.id = m.number_value;
      if (m.number == 2) member.name.assign(m.bytes_value);
      if (m.number == 5) member.is_learner = m.number_value != 0;
    });
  });
  return members;
}

std::vector<int64_t> ParseLeaseLeasesResponse(std::string_view message) {
  std::vector<int64_t> ids;
  ForEachField(message, "LeaseLeasesResponse", {{2, 2}}, [&](const ProtobufField& f) {
    if (f.number != 2) return;
    ForEachField(f.bytes_value, "LeaseStatus", {{1, 0}}, [&](const ProtobufField& l) {
      if (l.number == 1) ids.push_back(Signed(l));
    });
  });
  return ids;
}

WatchResponse ParseWatchResponse(std::string_view message) {
  WatchResponse response;
  ForEachField(
      message, "WatchResponse", {{1, 2}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {6, 2}, {7, 0}, {11, 2}},
      [&](const ProtobufField& f) {
        switch (f.number) {
          case 1:
            response.header_revision = ParseHeaderRevision(f.bytes_value);
            break;
          case 2:
            response.watch_id = Signed(f);
            break;
          case 3:
            response.created = f.number_value != 0;
            break;
          case 4:
            response.canceled = f.number_value != 0;
            break;
          case 5:
            response.compact_revision = Signed(f);
            break;
          case 6:
            response.cancel_reason.assign(f.bytes_value);
            break;
          case 7:
            response.fragment = f.number_value != 0;
            break;
          case 11: {
            EtcdEvent& event = response.events.emplace_back();
            bool has_kv = false;
            ForEachField(f.bytes_value, "Event", {{1, 0}, {2, 2}}, [&](const ProtobufField& e) {
              if (e.number == 1) {
                if (e.number_value > 1) {
                  throw Error::Corrupt("etcd Event: unknown type " +
                                       std::to_string(e.number_value));
                }
                event.is_delete = e.number_value == 1;
              }
              if (e.number == 2) {
                event.kv = ParseKeyValue(e.bytes_value);
                has_kv = true;
              }
            });
            // An event without its key cannot be replayed.
            if (!has_kv) throw Error::Corrupt("etcd Event: no kv");
            break;
          }
          default:
            break;
        }
      });
  return response;
}

}  // namespace snapd::etcdpb
