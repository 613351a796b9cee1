// Tests of the messages of etcd's key-value, lease and cluster calls, both transports: the
// protobuf requests byte for byte (field numbers of etcd's rpc.proto and kv.proto), their
// answers as etcd writes them, and the gateway's JSON as etcd 3.4's gateway wrote it here.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/error.h"
#include "etcd/etcd_client.h"
#include "etcd/gateway_messages.h"
#include "etcd/grpc_etcd_client.h"
#include "etcd/grpc_messages.h"

namespace snapd {
namespace {

using nlohmann::json;

std::string Varint(uint64_t value) {
  std::string out;
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (value != 0);
  return out;
}

std::string VarintField(uint32_t number, uint64_t value) {
  return Varint(uint64_t{number} << 3) + Varint(value);
}

std::string BytesField(uint32_t number, std::string_view bytes) {
  return Varint((uint64_t{number} << 3) | 2) + Varint(bytes.size()) + std::string(bytes);
}

// A key and a value no text encoding would survive.
const std::string kKey("claims/\x00\xff\x80k", 11);
const std::string kValue("\x01\x00server-a", 10);
constexpr int64_t kLease = 7587861231281451234;

// ResponseHeader {cluster_id = 1, member_id = 2, revision = 3, raft_term = 4}.
std::string Header(int64_t revision) {
  return BytesField(
      1, VarintField(1, 11) + VarintField(2, 22) + VarintField(3, revision) + VarintField(4, 2));
}

// mvccpb.KeyValue.
std::string KeyValue(std::string_view key, std::string_view value, int64_t lease, int64_t create,
                     int64_t mod, int64_t version) {
  return BytesField(1, key) + VarintField(2, create) + VarintField(3, mod) +
         VarintField(4, version) + BytesField(5, value) + VarintField(6, lease);
}

}  // namespace

// --- Native gRPC: requests.

TEST_CASE("etcdpb: PutIfAbsent is one Txn: create_revision == 0 ? put : range", "[etcd-messages]") {
  const std::string compare =
      VarintField(1, 0) + VarintField(2, 1) + BytesField(3, kKey) + VarintField(5, 0);
  const std::string put = BytesField(1, kKey) + BytesField(2, kValue) + VarintField(3, kLease);
  const std::string range = BytesField(1, kKey);
  CHECK(etcdpb::PutIfAbsentTxn(kKey, kValue, kLease) == BytesField(1, compare) +
                                                            BytesField(2, BytesField(2, put)) +
                                                            BytesField(3, BytesField(1, range)));
  // Without a lease the put carries none.
  CHECK(etcdpb::PutIfAbsentTxn("k", "v", 0) ==
        BytesField(1,
                   VarintField(1, 0) + VarintField(2, 1) + BytesField(3, "k") + VarintField(5, 0)) +
            BytesField(2, BytesField(2, BytesField(1, "k") + BytesField(2, "v"))) +
            BytesField(3, BytesField(1, BytesField(1, "k"))));
}

TEST_CASE("etcdpb: DeleteIfValue is one Txn: value == expected ? delete", "[etcd-messages]") {
  const std::string compare =
      VarintField(1, 0) + VarintField(2, 3) + BytesField(3, kKey) + BytesField(7, kValue);
  CHECK(etcdpb::DeleteIfValueTxn(kKey, kValue) ==
        BytesField(1, compare) + BytesField(2, BytesField(3, BytesField(1, kKey))));
  // An empty expected value is still compared (a oneof member is written even when empty).
  CHECK(etcdpb::DeleteIfValueTxn("k", "") ==
        BytesField(1,
                   VarintField(1, 0) + VarintField(2, 3) + BytesField(3, "k") + BytesField(7, "")) +
            BytesField(2, BytesField(3, BytesField(1, "k"))));
}

TEST_CASE("etcdpb: plain requests, 64-bit ids and framing", "[etcd-messages]") {
  CHECK(etcdpb::RangeRequest("a/") == BytesField(1, "a/"));
  CHECK(etcdpb::RangeRequest("a/", "a0") == BytesField(1, "a/") + BytesField(2, "a0"));
  CHECK(etcdpb::DeleteRangeRequest("a/", "a0") == BytesField(1, "a/") + BytesField(2, "a0"));
  CHECK(etcdpb::PutRequest("k", "", 0) == BytesField(1, "k") + BytesField(2, ""));
  CHECK(etcdpb::PutRequest("k", "v", 5) ==
        BytesField(1, "k") + BytesField(2, "v") + VarintField(3, 5));
  CHECK(etcdpb::LeaseGrantRequest(30) == VarintField(1, 30));
  CHECK(etcdpb::LeaseIdRequest(kLease) == VarintField(1, kLease));
  // A negative int64 is its two's complement in 10 bytes, as protobuf writes it.
  CHECK(etcdpb::LeaseIdRequest(-1) == std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"));
  CHECK(etcdpb::Framed("") == std::string(5, '\0'));
  CHECK(etcdpb::Framed(std::string(300, 'x')) ==
        std::string("\0\0\0\x01\x2c", 5) + std::string(300, 'x'));
}

TEST_CASE("etcdpb: replay requests: probe, applied revision, lease with id, compaction, watch",
          "[etcd-messages]") {
  const std::string nul(1, '\0');
  CHECK(etcdpb::ProbeRangeRequest(42) ==
        BytesField(1, nul) + VarintField(3, 1) + VarintField(4, 42) + VarintField(9, 1));
  CHECK(etcdpb::ProbeRangeRequest(0) == BytesField(1, nul) + VarintField(3, 1) + VarintField(9, 1));

  // One revision: a put with a lease, a put without, a delete; success ops in that order.
  std::vector<EtcdEvent> events(3);
  events[0].kv = EtcdKeyValue{kKey, kValue, kLease, 3, 9, 2};
  events[1].kv = EtcdKeyValue{"b", "", 0, 9, 9, 1};
  events[2].is_delete = true;
  events[2].kv.key = "c";
  events[2].kv.mod_revision = 9;
  CHECK(etcdpb::ApplyEventsTxn(events) ==
        BytesField(2, BytesField(2, etcdpb::PutRequest(kKey, kValue, kLease))) +
            BytesField(2, BytesField(2, BytesField(1, "b") + BytesField(2, ""))) +
            BytesField(2, BytesField(3, BytesField(1, "c"))));

  CHECK(etcdpb::LeaseGrantWithIdRequest(kLease, 60) == VarintField(1, 60) + VarintField(2, kLease));
  CHECK(etcdpb::CompactionRequest(17) == VarintField(1, 17) + VarintField(2, 1));
  CHECK(etcdpb::WatchAllRequest(5) ==
        BytesField(1, BytesField(1, nul) + BytesField(2, nul) + VarintField(3, 5)));
}

TEST_CASE("etcdpb: header revisions and lease lists", "[etcd-messages]") {
  CHECK(etcdpb::ParseHeaderRevisionOf(Header(12) + VarintField(4, 3), "RangeResponse") == 12);
  RequireError([] { etcdpb::ParseHeaderRevisionOf(VarintField(4, 3), "TxnResponse"); },
               ErrorKind::kCorrupt, "TxnResponse: no revision");
  RequireError([] { etcdpb::ParseHeaderRevisionOf(VarintField(1, 3), "TxnResponse"); },
               ErrorKind::kCorrupt, "TxnResponse: field 1 has wire type 0");

  CHECK(etcdpb::ParseLeaseLeasesResponse(Header(3) + BytesField(2, VarintField(1, kLease)) +
                                         BytesField(2, VarintField(1, 5))) ==
        std::vector<int64_t>{kLease, 5});
  CHECK(etcdpb::ParseLeaseLeasesResponse(Header(3)).empty());
}

TEST_CASE("etcdpb: watch responses: created, events, compacted, cancelled", "[etcd-messages]") {
  const etcdpb::WatchResponse created =
      etcdpb::ParseWatchResponse(Header(7) + VarintField(2, 0) + VarintField(3, 1));
  CHECK((created.created && created.header_revision == 7 && created.events.empty()));

  // Event {type = 1 (PUT omitted as 0), kv = 2}: a put with a binary key and value and a lease,
  // then a delete (its kv only the key and the deleting revision).
  const std::string put = BytesField(2, KeyValue(kKey, kValue, kLease, 4, 8, 3));
  const std::string del =
      VarintField(1, 1) + BytesField(2, BytesField(1, "gone") + VarintField(3, 8));
  const etcdpb::WatchResponse events = etcdpb::ParseWatchResponse(
      Header(9) + VarintField(2, 1) + BytesField(11, put) + BytesField(11, del));
  CHECK((events.header_revision == 9 && events.watch_id == 1 && !events.created));
  REQUIRE(events.events.size() == 2);
  const EtcdEvent& p = events.events[0];
  CHECK_FALSE(p.is_delete);
  CHECK((p.kv.key == kKey && p.kv.value == kValue && p.kv.lease == kLease));
  CHECK((p.kv.create_revision == 4 && p.kv.mod_revision == 8 && p.kv.version == 3));
  const EtcdEvent& d = events.events[1];
  CHECK((d.is_delete && d.kv.key == "gone" && d.kv.mod_revision == 8 && d.kv.value.empty()));

  const etcdpb::WatchResponse compacted = etcdpb::ParseWatchResponse(
      Header(20) + VarintField(4, 1) + VarintField(5, 15) + BytesField(6, "compacted"));
  CHECK((compacted.canceled && compacted.compact_revision == 15 &&
         compacted.cancel_reason == "compacted" && compacted.events.empty()));

  RequireError([] { etcdpb::ParseWatchResponse(BytesField(11, VarintField(1, 0))); },
               ErrorKind::kCorrupt, "Event: no kv");
  RequireError(
      [] { etcdpb::ParseWatchResponse(BytesField(11, VarintField(1, 2) + BytesField(2, ""))); },
      ErrorKind::kCorrupt, "unknown type 2");
  RequireError([] { etcdpb::ParseWatchResponse(VarintField(5, 1) + VarintField(11, 1)); },
               ErrorKind::kCorrupt, "WatchResponse: field 11 has wire type 0");
}

TEST_CASE("EtcdPrefixEnd covers exactly the keys with the prefix", "[etcd-messages]") {
  CHECK(EtcdPrefixEnd("a/") == "a0");
  CHECK(EtcdPrefixEnd("a\xff") == "b");
  CHECK(EtcdPrefixEnd("a\x7f\xff\xff") == "a\x80");
  CHECK(EtcdPrefixEnd("\xff\xff") == std::string(1, '\0'));
  RequireError([] { EtcdPrefixEnd(""); }, ErrorKind::kInvalidInput, "must not be empty");
  CHECK(EtcdKeyForMessage(std::string("a\0\"b", 4)) == "\"a\\x00\\x22b\"");
  CHECK(EtcdKeyForMessage(std::string(300, 'k')) == "\"" + std::string(200, 'k') + "\"...");
}

// --- Native gRPC: answers.

TEST_CASE("etcdpb: PutIfAbsent answers, won and lost", "[etcd-messages]") {
  // Won: succeeded, one response_put; the claim is what this call wrote at the header's revision.
  const std::string won = Header(42) + VarintField(2, 1) +
                          BytesField(3, BytesField(2, BytesField(1, VarintField(3, 42))));
  EtcdClaim claim = etcdpb::ParsePutIfAbsentResponse(won, kKey, kValue, kLease);
  CHECK(claim.created);
  CHECK(claim.kv.key == kKey);
  CHECK(claim.kv.value == kValue);
  CHECK(claim.kv.lease == kLease);
  CHECK(claim.kv.create_revision == 42);
  CHECK(claim.kv.mod_revision == 42);

  // Lost: succeeded omitted (false), the range finds the holder's key.
  const std::string holder = KeyValue(kKey, "server-b", 99, 40, 41, 2);
  const std::string lost =
      Header(43) +
      BytesField(3, BytesField(1, Header(43) + BytesField(2, holder) + VarintField(4, 1)));
  claim = etcdpb::ParsePutIfAbsentResponse(lost, kKey, kValue, kLease);
  CHECK_FALSE(claim.created);
  CHECK(claim.kv.key == kKey);
  CHECK(claim.kv.value == "server-b");
  CHECK(claim.kv.lease == 99);
  CHECK(claim.kv.create_revision == 40);
  CHECK(claim.kv.mod_revision == 41);
  CHECK(claim.kv.version == 2);

  // Lost, but the range found nothing: not an answer etcd gives.
  RequireError(
      [&] {
        etcdpb::ParsePutIfAbsentResponse(Header(43) + BytesField(3, BytesField(1, Header(43))),
                                         kKey, kValue, kLease);
      },
      ErrorKind::kCorrupt, "range answered 0 keys");
  // A field of the wrong wire type, and a truncated message, are refused and named.
  RequireError([&] { etcdpb::ParsePutIfAbsentResponse(BytesField(2, "x"), kKey, kValue, 0); },
               ErrorKind::kCorrupt, "TxnResponse: field 2 has wire type 2");
  RequireError(
      [&] { etcdpb::ParsePutIfAbsentResponse(lost.substr(0, lost.size() - 3), kKey, kValue, 0); },
      ErrorKind::kCorrupt, "truncated");
}

TEST_CASE("etcdpb: DeleteIfValue, Range and DeleteRange answers", "[etcd-messages]") {
  CHECK(etcdpb::ParseDeleteIfValueResponse(Header(5) + VarintField(2, 1) +
                                           BytesField(3, BytesField(3, VarintField(2, 1)))));
  CHECK_FALSE(etcdpb::ParseDeleteIfValueResponse(Header(5)));

  const std::string range = Header(9) + BytesField(2, KeyValue("a/1", "x", 0, 3, 4, 1)) +
                            BytesField(2, KeyValue("a/2", "", 77, 5, 8, 3)) + VarintField(4, 2);
  std::vector<EtcdKeyValue> kvs = etcdpb::ParseRangeResponse(range);
  REQUIRE(kvs.size() == 2);
  CHECK((kvs[0].key == "a/1" && kvs[0].value == "x" && kvs[0].lease == 0));
  CHECK((kvs[1].key == "a/2" && kvs[1].value.empty() && kvs[1].lease == 77));
  CHECK((kvs[1].create_revision == 5 && kvs[1].mod_revision == 8 && kvs[1].version == 3));
  CHECK(etcdpb::ParseRangeResponse(Header(9)).empty());
  RequireError([&] { etcdpb::ParseRangeResponse(BytesField(2, VarintField(1, 3))); },
               ErrorKind::kCorrupt, "KeyValue: field 1 has wire type 0");

  CHECK(etcdpb::ParseDeleteRangeResponse(Header(9) + VarintField(2, 3)) == 3);
  CHECK(etcdpb::ParseDeleteRangeResponse(Header(9)) == 0);
}

TEST_CASE("etcdpb: lease answers", "[etcd-messages]") {
  CHECK(etcdpb::ParseLeaseGrantResponse(Header(1) + VarintField(2, kLease) + VarintField(3, 30)) ==
        kLease);
  RequireError(
      [] { etcdpb::ParseLeaseGrantResponse(Header(1) + BytesField(4, "lease already exists")); },
      ErrorKind::kPermanent, "lease already exists");
  RequireError([] { etcdpb::ParseLeaseGrantResponse(Header(1)); }, ErrorKind::kCorrupt,
               "no lease id");

  CHECK(etcdpb::ParseLeaseKeepAliveResponse(Header(1) + VarintField(2, kLease) +
                                            VarintField(3, 29)) == 29);
  // A lease etcd no longer knows: TTL 0 is omitted.
  CHECK(etcdpb::ParseLeaseKeepAliveResponse(Header(1) + VarintField(2, kLease)) == 0);
  CHECK(etcdpb::ParseLeaseKeepAliveResponse(VarintField(3, static_cast<uint64_t>(-1))) == -1);
}

TEST_CASE("etcdpb: member list and a learner's status", "[etcd-messages]") {
  const std::string a = VarintField(1, 0x3ce5a1b2c3d4e5f6) + BytesField(2, "server-a") +
                        BytesField(3, "http://127.0.0.1:2380") +
                        BytesField(4, "http://127.0.0.1:2379");
  const std::string b =
      VarintField(1, 17) + BytesField(3, "http://127.0.0.1:2390") + VarintField(5, 1);
  std::vector<EtcdMember> members =
      etcdpb::ParseMemberListResponse(Header(1) + BytesField(2, a) + BytesField(2, b));
  REQUIRE(members.size() == 2);
  CHECK((members[0].id == 0x3ce5a1b2c3d4e5f6 && members[0].name == "server-a"));
  CHECK_FALSE(members[0].is_learner);
  CHECK((members[1].id == 17 && members[1].name.empty() && members[1].is_learner));
  RequireError([] { etcdpb::ParseMemberListResponse(BytesField(2, VarintField(2, 1))); },
               ErrorKind::kCorrupt, "Member: field 2 has wire type 0");

  CHECK(ParseStatusResponse(Header(1) + BytesField(2, "3.4.23") + VarintField(10, 1)).is_learner);
  CHECK_FALSE(ParseStatusResponse(Header(1) + BytesField(2, "3.4.23")).is_learner);
}

// --- Gateway JSON.

TEST_CASE("etcdjson: requests in the gateway's JSON", "[etcd-messages]") {
  json txn = json::parse(etcdjson::PutIfAbsentTxn(kKey, kValue, kLease));
  CHECK(txn == json::parse(R"({
    "compare": [{"result": "EQUAL", "target": "CREATE", "key": ")" +
                           Base64Encode(kKey) +
                           R"(", "create_revision": "0"}],
    "success": [{"request_put": {"key": ")" +
                           Base64Encode(kKey) + R"(", "value": ")" + Base64Encode(kValue) +
                           R"(", "lease": "7587861231281451234"}}],
    "failure": [{"request_range": {"key": ")" +
                           Base64Encode(kKey) + R"("}}]})"));
  txn = json::parse(etcdjson::DeleteIfValueTxn("k", ""));
  CHECK(txn == json::parse(R"({
    "compare": [{"result": "EQUAL", "target": "VALUE", "key": "aw==", "value": ""}],
    "success": [{"request_delete_range": {"key": "aw=="}}]})"));
  CHECK(json::parse(etcdjson::PutRequest("k", "v", 0)) ==
        json::parse(R"({"key":"aw==","value":"dg=="})"));
  CHECK(json::parse(etcdjson::RangeRequest("a/", "a0")) ==
        json::parse(R"({"key":"YS8=","range_end":"YTA="})"));
  CHECK(json::parse(etcdjson::LeaseGrantRequest(30)) == json::parse(R"({"TTL":"30"})"));
  CHECK(json::parse(etcdjson::LeaseIdRequest(-1)) == json::parse(R"({"ID":"-1"})"));
}

TEST_CASE("etcdjson: answers as etcd 3.4's gateway writes them", "[etcd-messages]") {
  // Captured from etcd 3.4.23: a put-if-absent won, then the same call lost.
  const std::string won =
      R"({"header":{"cluster_id":"875014437167945218","member_id":"4388126251939204836","revision":"2","raft_term":"2"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"2"}}}]})";
  const std::string lost =
      R"({"header":{"cluster_id":"875014437167945218","member_id":"4388126251939204836","revision":"2","raft_term":"2"},"responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"YS8A/2s=","create_revision":"2","mod_revision":"2","version":"1","value":"djE=","lease":"1073161071345467909"}],"count":"1"}}]})";
  const std::string key("a/\x00\xffk", 5);
  EtcdClaim claim = etcdjson::ParsePutIfAbsentResponse(won, key, "v1", 1073161071345467909);
  CHECK(claim.created);
  CHECK((claim.kv.value == "v1" && claim.kv.lease == 1073161071345467909));
  CHECK((claim.kv.create_revision == 2 && claim.kv.mod_revision == 2));
  claim = etcdjson::ParsePutIfAbsentResponse(lost, key, "other", 5);
  CHECK_FALSE(claim.created);
  CHECK(claim.kv.key == key);
  CHECK(claim.kv.value == "v1");
  CHECK(claim.kv.lease == 1073161071345467909);
  CHECK(claim.kv.mod_revision == 2);
  RequireError([] { etcdjson::ParsePutIfAbsentResponse(R"({"responses":[]})", "k", "v", 0); },
               ErrorKind::kCorrupt, "range answered 0 keys");

  CHECK(etcdjson::ParseDeleteIfValueResponse(R"({"header":{},"succeeded":true})"));
  CHECK_FALSE(etcdjson::ParseDeleteIfValueResponse(R"({"header":{"revision":"3"}})"));
  CHECK(etcdjson::ParseDeleteRangeResponse(R"({"header":{},"deleted":"2"})") == 2);
  CHECK(etcdjson::ParseDeleteRangeResponse(R"({"header":{}})") == 0);
  CHECK(etcdjson::ParseRangeResponse(R"({"header":{}})").empty());

  CHECK(etcdjson::ParseLeaseGrantResponse(
            R"({"header":{"revision":"1"},"ID":"1073161071345467909","TTL":"30"})") ==
        1073161071345467909);
  RequireError([] { etcdjson::ParseLeaseGrantResponse(R"({"ID":"5","error":"no"})"); },
               ErrorKind::kPermanent, "refused the lease: no");

  // The keepalive stream's first message; a lease etcd does not know has no TTL.
  CHECK(etcdjson::ParseLeaseKeepAliveResponse(
            "{\"result\":{\"header\":{},\"ID\":\"1073161071345467909\",\"TTL\":\"30\"}}\n") == 30);
  CHECK(etcdjson::ParseLeaseKeepAliveResponse(R"({"result":{"header":{},"ID":"123"}})") == 0);
  RequireError(
      [] {
        etcdjson::ParseLeaseKeepAliveResponse(
            R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})");
      },
      ErrorKind::kTransient, "no leader (grpc code 14)");

  const std::string members =
      R"({"header":{"cluster_id":"875014437167945218"},"members":[{"ID":"4388126251939204836","name":"p","peerURLs":["http://127.0.0.1:44802"],"clientURLs":["http://127.0.0.1:44801"]},{"ID":"18","peerURLs":["http://127.0.0.1:1"],"isLearner":true}]})";
  std::vector<EtcdMember> list = etcdjson::ParseMemberListResponse(members);
  REQUIRE(list.size() == 2);
  CHECK((list[0].id == 4388126251939204836u && list[0].name == "p" && !list[0].is_learner));
  CHECK((list[1].id == 18 && list[1].name.empty() && list[1].is_learner));
}

TEST_CASE("etcdjson: answers that cannot be read are refused and named", "[etcd-messages]") {
  RequireError([] { etcdjson::ParseRangeResponse("<html>"); }, ErrorKind::kCorrupt,
               "RangeResponse: the answer is not a JSON object");
  RequireError([] { etcdjson::ParseRangeResponse(R"({"kvs":[{"key":"!!"}]})"); },
               ErrorKind::kCorrupt, "KeyValue: key");
  RequireError([] { etcdjson::ParseRangeResponse(R"({"kvs":[{"lease":"12x"}]})"); },
               ErrorKind::kCorrupt, "lease is not an integer");
  RequireError([] { etcdjson::ParseRangeResponse(R"({"kvs":{}})"); }, ErrorKind::kCorrupt,
               "kvs is not an array");
  RequireError([] { etcdjson::ParseDeleteIfValueResponse(R"({"succeeded":"true"})"); },
               ErrorKind::kCorrupt, "succeeded is not a boolean");
  RequireError([] { etcdjson::ParseMemberListResponse(R"({"members":[{"ID":"-1"}]})"); },
               ErrorKind::kCorrupt, "ID is not an integer");
  RequireError([] { etcdjson::ParseLeaseKeepAliveResponse("{}"); }, ErrorKind::kCorrupt,
               "neither a result nor an error");
  RequireError([] { etcdjson::ParseLeaseKeepAliveResponse("\n"); }, ErrorKind::kTransient,
               "the stream ended unanswered");
}

TEST_CASE("HashKV: requests and answers on both transports", "[etcd-messages]") {
  CHECK(etcdpb::HashKVRequest(42) == VarintField(1, 42));
  const EtcdKvHash pb = etcdpb::ParseHashKVResponse(
      Header(50) + VarintField(2, 3628877040u) + VarintField(3, 17), 42);
  CHECK(pb.hash == 3628877040u);
  CHECK(pb.revision == 42);
  CHECK(pb.compact_revision == 17);
  // Never compacted: etcd sends -1 (ten bytes of varint).
  CHECK(
      etcdpb::ParseHashKVResponse(VarintField(2, 1) + VarintField(3, static_cast<uint64_t>(-1)), 5)
          .compact_revision == -1);
  RequireError([] { etcdpb::ParseHashKVResponse(Header(1), 1); }, ErrorKind::kCorrupt, "no hash");

  CHECK(json::parse(etcdjson::HashKVRequest(42)) == json{{"revision", "42"}});
  // As etcd 3.5's gateway writes it: hash a number, revisions strings.
  const EtcdKvHash js = etcdjson::ParseHashKVResponse(
      R"({"header":{"revision":"50"},"hash":3628877040,"compact_revision":"-1"})", 42);
  CHECK(js.hash == 3628877040u);
  CHECK(js.revision == 42);
  CHECK(js.compact_revision == -1);
  RequireError([] { etcdjson::ParseHashKVResponse(R"({"header":{}})", 1); }, ErrorKind::kCorrupt,
               "no hash");
}

}  // namespace snapd
