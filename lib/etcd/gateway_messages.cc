// The gateway's JSON for etcd's KV, Lease and Cluster calls, with nlohmann::json.
#include "etcd/gateway_messages.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/error.h"
#include "etcd/snapshot_sequence.h"

namespace snapd::etcdjson {
namespace {

using nlohmann::json;

[[noreturn]] void Bad(std::string_view message_name, const std::string& what) {
  throw Error::Corrupt("etcd gateway " + std::string(message_name) + ": " + what);
}

json ParseObject(std::string_view body, std::string_view message_name) {
  json object = json::parse(body, nullptr, false);
  if (!object.is_object()) Bad(message_name, "the answer is not a JSON object");
  return object;
}

// A 64-bit integer field: a string of digits (as the gateway writes them) or a JSON integer;
// absent means 0.
template <typename Int>
Int Integer(const json& object, const char* key, std::string_view message_name) {
  auto it = object.find(key);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) {
    if (it->is_number_unsigned()) return static_cast<Int>(it->get<uint64_t>());
    return static_cast<Int>(it->get<int64_t>());
  }
  if (it->is_string()) {
    const std::string& text = it->get_ref<const std::string&>();
    Int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size()) return value;
  }
  Bad(message_name, std::string(key) + " is not an integer");
}

bool Boolean(const json& object, const char* key, std::string_view message_name) {
  auto it = object.find(key);
  if (it == object.end()) return false;
  if (!it->is_boolean()) Bad(message_name, std::string(key) + " is not a boolean");
  return it->get<bool>();
}

std::string Text(const json& object, const char* key, std::string_view message_name) {
  auto it = object.find(key);
  if (it == object.end()) return "";
  if (!it->is_string()) Bad(message_name, std::string(key) + " is not a string");
  return it->get<std::string>();
}

std::string Bytes(const json& object, const char* key, std::string_view message_name) {
  std::string out;
  try {
    Base64DecodeAppend(Text(object, key, message_name), out);
  } catch (const Error& e) {
    throw e.WithContext("etcd gateway " + std::string(message_name) + ": " + key);
  }
  return out;
}

// The array `key` (absent: empty) of objects.
std::vector<json> Objects(const json& object, const char* key, std::string_view message_name) {
  auto it = object.find(key);
  if (it == object.end()) return {};
  if (!it->is_array()) Bad(message_name, std::string(key) + " is not an array");
  std::vector<json> out;
  for (const json& item : *it) {
    if (!item.is_object()) Bad(message_name, std::string(key) + " holds a non-object");
    out.push_back(item);
  }
  return out;
}

const json* Child(const json& object, const char* key, std::string_view message_name) {
  auto it = object.find(key);
  if (it == object.end()) return nullptr;
  if (!it->is_object()) Bad(message_name, std::string(key) + " is not an object");
  return &*it;
}

EtcdKeyValue ParseKeyValue(const json& object) {
  constexpr std::string_view kName = "KeyValue";
  EtcdKeyValue kv;
  kv.key = Bytes(object, "key", kName);
  kv.value = Bytes(object, "value", kName);
  kv.lease = Integer<int64_t>(object, "lease", kName);
  kv.create_revision = Integer<int64_t>(object, "create_revision", kName);
  kv.mod_revision = Integer<int64_t>(object, "mod_revision", kName);
  kv.version = Integer<int64_t>(object, "version", kName);
  return kv;
}

std::vector<EtcdKeyValue> RangeKvs(const json& range) {
  std::vector<EtcdKeyValue> kvs;
  for (const json& kv : Objects(range, "kvs", "RangeResponse")) kvs.push_back(ParseKeyValue(kv));
  return kvs;
}

std::string Integer64(int64_t value) {
  return std::to_string(value);
}

json Put(std::string_view key, std::string_view value, int64_t lease) {
  json put = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) put["lease"] = Integer64(lease);
  return put;
}

json KeyRange(std::string_view key, std::string_view range_end) {
  json range = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) range["range_end"] = Base64Encode(range_end);
  return range;
}

}  // namespace

std::string RangeRequest(std::string_view key, std::string_view range_end) {
  return KeyRange(key, range_end).dump();
}

std::string PutRequest(std::string_view key, std::string_view value, int64_t lease) {
  return Put(key, value, lease).dump();
}

std::string DeleteRangeRequest(std::string_view key, std::string_view range_end) {
  return KeyRange(key, range_end).dump();
}

std::string PutIfAbsentTxn(std::string_view key, std::string_view value, int64_t lease) {
  json compare = {{"result", "EQUAL"},
                  {"target", "CREATE"},
                  {"key", Base64Encode(key)},
                  {"create_revision", "0"}};
  json txn = {{"compare", json::array({compare})},
              {"success", json::array({{{"request_put", Put(key, value, lease)}}})},
              {"failure", json::array({{{"request_range", KeyRange(key, {})}}})}};
  return txn.dump();
}

std::string DeleteIfValueTxn(std::string_view key, std::string_view expected) {
  json compare = {{"result", "EQUAL"},
                  {"target", "VALUE"},
                  {"key", Base64Encode(key)},
                  {"value", Base64Encode(expected)}};
  json txn = {{"compare", json::array({compare})},
              {"success", json::array({{{"request_delete_range", KeyRange(key, {})}}})}};
  return txn.dump();
}

std::string LeaseGrantRequest(int64_t ttl_seconds) {
  return json{{"TTL", Integer64(ttl_seconds)}}.dump();
}

std::string LeaseIdRequest(int64_t lease_id) {
  return json{{"ID", Integer64(lease_id)}}.dump();
}

std::string HashKVRequest(int64_t revision) {
  return json{{"revision", Integer64(revision)}}.dump();
}

EtcdKvHash ParseHashKVResponse(std::string_view body, int64_t revision) {
  constexpr std::string_view kName = "HashKVResponse";
  const json answer = ParseObject(body, kName);
  if (!answer.contains("hash")) Bad(kName, "no hash");
  EtcdKvHash hash;
  hash.revision = revision;
  hash.hash = Integer<uint32_t>(answer, "hash", kName);
  hash.compact_revision = Integer<int64_t>(answer, "compact_revision", kName);
  return hash;
}

std::vector<EtcdKeyValue> ParseRangeResponse(std::string_view body) {
  return RangeKvs(ParseObject(body, "RangeResponse"));
}

int64_t ParseDeleteRangeResponse(std::string_view body) {
  constexpr std::string_view kName = "DeleteRangeResponse";
  return Integer<int64_t>(ParseObject(body, kName), "deleted", kName);
}

EtcdClaim ParsePutIfAbsentResponse(std::string_view body, std::string_view key,
                                   std::string_view value, int64_t lease) {
  constexpr std::string_view kName = "TxnResponse";
  const json txn = ParseObject(body, kName);
  EtcdClaim claim;
  if (Boolean(txn, "succeeded", kName)) {
    int64_t revision = 0;
    if (const json* header = Child(txn, "header", kName)) {
      revision = Integer<int64_t>(*header, "revision", "ResponseHeader");
    }
    claim.created = true;
    claim.kv = EtcdKeyValue{std::string(key), std::string(value), lease, revision, revision, 1};
    return claim;
  }
  std::vector<EtcdKeyValue> kvs;
  for (const json& op : Objects(txn, "responses", kName)) {
    if (const json* range = Child(op, "response_range", "ResponseOp")) kvs = RangeKvs(*range);
  }
  if (kvs.size() != 1) {
    Bad(kName, "the key exists, but its range answered " + std::to_string(kvs.size()) + " keys");
  }
  claim.kv = std::move(kvs.front());
  return claim;
}

bool ParseDeleteIfValueResponse(std::string_view body) {
  constexpr std::string_view kName = "TxnResponse";
  return Boolean(ParseObject(body, kName), "succeeded", kName);
}

int64_t ParseLeaseGrantResponse(std::string_view body) {
  constexpr std::string_view kName = "LeaseGrantResponse";
  const json grant = ParseObject(body, kName);
  if (std::string error = Text(grant, "error", kName); !error.empty()) {
    throw Error::Permanent("etcd refused the lease: " + error.substr(0, 300));
  }
  const auto id = Integer<int64_t>(grant, "ID", kName);
  if (id == 0) Bad(kName, "no lease id");
  return id;
}

int64_t ParseLeaseKeepAliveResponse(std::string_view body) {
  constexpr std::string_view kName = "LeaseKeepAliveResponse";
  // One JSON object per line; the first one answers our one request. None at all: the stream
  // was cut (etcd went away) before it answered.
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    throw Error::Transient("etcd gateway " + std::string(kName) + ": the stream ended unanswered");
  }
  const size_t line_end = body.find('\n');
  const json message = ParseObject(body.substr(0, line_end), kName);
  if (auto it = message.find("error"); it != message.end()) {
    // {"error":{"grpc_code":N,"message":"..."}}, as the gateway streams an error.
    int code = 2;
    std::string text = "unknown error";
    if (it->is_object()) {
      code = static_cast<int>(Integer<int64_t>(*it, "grpc_code", kName));
      if (it->contains("message") && (*it)["message"].is_string()) text = (*it)["message"];
    }
    if (text.size() > 300) text = text.substr(0, 300) + "...";
    throw Error(EtcdErrorKind(code),
                "etcd answered an error: " + text + " (grpc code " + std::to_string(code) + ")");
  }
  const json* result = Child(message, "result", kName);
  if (result == nullptr) Bad(kName, "neither a result nor an error");
  return Integer<int64_t>(*result, "TTL", kName);
}

std::vector<EtcdMember> ParseMemberListResponse(std::string_view body) {
  constexpr std::string_view kName = "MemberListResponse";
  std::vector<EtcdMember> members;
  for (const json& object : Objects(ParseObject(body, kName), "members", kName)) {
    EtcdMember& member = members.emplace_back();
    member.id = Integer<uint64_t>(object, "ID", "Member");
    member.name = Text(object, "name", "Member");
    member.is_learner = Boolean(object, "isLearner", "Member");
  }
  return members;
}

}  // namespace snapd::etcdjson
