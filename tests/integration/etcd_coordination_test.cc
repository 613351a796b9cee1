// Integration tests of the etcd calls beyond the snapshot: members, leases, put-if-absent and the
// key-value calls that let several servers agree on one uploader, and HashKV. Against a real
// etcd, over each transport: the gateway's JSON, native gRPC, and AutoEtcdClient forwarding. The
// harness starts one etcd on free loopback ports with its data in a temp dir; without `etcd`
// installed the test exits 77 (skipped). Nothing waits on a clock: every wait polls etcd's state
// with a bound.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../unit/require_error.h"
#include "core/error.h"
#include "etcd/gateway_etcd_client.h"
#include "etcd/grpc_etcd_client.h"
#include "etcd_test_main.h"

using namespace snapd;
using namespace std::chrono_literals;

namespace {

constexpr auto kTimeout = 5s;

using test::EtcdServer;
using test::FreePort;
using test::OnPath;

EtcdServer* g_etcd = nullptr;

// One transport's client: its coordination calls through -> and *, its status through owner.
struct TestClient {
  std::unique_ptr<EtcdClient> owner;
  EtcdCoordinationClient* coordination = nullptr;
  EtcdCoordinationClient* operator->() const { return coordination; }
  EtcdCoordinationClient& operator*() const { return *coordination; }
};

template <typename T>
TestClient Make(const EtcdEndpoint& endpoint) {
  auto client = std::make_unique<T>(endpoint);
  EtcdCoordinationClient* coordination = client.get();
  return TestClient{std::move(client), coordination};
}

TestClient Client(const std::string& transport, const std::string& url) {
  EtcdEndpoint endpoint{url, {}, 60s};
  if (transport == "gateway") return Make<GatewayEtcdClient>(endpoint);
  if (transport == "grpc") return Make<GrpcEtcdClient>(endpoint);
  return Make<AutoEtcdClient>(endpoint);
}

// Keys of one test and transport, apart from every other's: bytes no text encoding keeps.
std::string Prefix(const std::string& transport, const std::string& test) {
  return "/k3s-snapd-it/" + transport + "/" + test + std::string("/\x00\xff", 3);
}

// Polls until `key` is gone; false if it is still there after `bound`.
bool WaitUntilGone(EtcdCoordinationClient& etcd, const std::string& key,
                   std::chrono::seconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (etcd.Get(key, kTimeout).has_value()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

}  // namespace

TEST_CASE("status and member list: one voting member", "[etcd-coordination]") {
  const std::string transport = GENERATE("gateway", "grpc", "auto");
  INFO("transport " << transport);
  auto etcd = Client(transport, g_etcd->url());
  const EtcdStatus status = etcd.owner->Status(kTimeout);
  CHECK_FALSE(status.is_learner);
  const std::vector<EtcdMember> members = etcd->MemberList(kTimeout);
  REQUIRE(members.size() == 1);
  CHECK(members[0].name == "it");
  CHECK(members[0].id == status.member_id);
  CHECK(members[0].id != 0);
  CHECK_FALSE(members[0].is_learner);
  if (transport == "auto") {
    CHECK(static_cast<AutoEtcdClient&>(*etcd.owner).transport() == "grpc");
  }
}

TEST_CASE("leases: grant, keepalive, revoke; a revoked lease's keys vanish",
          "[etcd-coordination]") {
  const std::string transport = GENERATE("gateway", "grpc", "auto");
  INFO("transport " << transport);
  auto etcd = Client(transport, g_etcd->url());
  const std::string key = Prefix(transport, "lease") + "claim";

  const int64_t lease = etcd->LeaseGrant(30, kTimeout);
  CHECK(lease > 0);
  const int64_t ttl = etcd->LeaseKeepAliveOnce(lease, kTimeout);
  CHECK(ttl > 0);
  CHECK(ttl <= 30);
  etcd->Put(key, "holder", lease, kTimeout);
  std::optional<EtcdKeyValue> kv = etcd->Get(key, kTimeout);
  REQUIRE(kv.has_value());
  CHECK(kv->lease == lease);

  etcd->LeaseRevoke(lease, kTimeout);
  CHECK_FALSE(etcd->Get(key, kTimeout).has_value());
  CHECK(etcd->LeaseKeepAliveOnce(lease, kTimeout) <= 0);
  // Revoking a lease that is gone is what was asked: no error.
  etcd->LeaseRevoke(lease, kTimeout);
  // Writing with a gone lease is refused as not found (the caller grants a new one).
  RequireError([&] { etcd->PutIfAbsent(key, "late", lease, kTimeout); }, ErrorKind::kNotFound,
               "etcd put-if-absent of ");
  RequireError([&] { etcd->Put(key, "late", lease, kTimeout); }, ErrorKind::kNotFound,
               "requested lease not found");
  CHECK_FALSE(etcd->Get(key, kTimeout).has_value());
}

TEST_CASE("leases: an expired lease takes its keys with it", "[etcd-coordination]") {
  const std::string transport = GENERATE("gateway", "grpc");
  INFO("transport " << transport);
  auto etcd = Client(transport, g_etcd->url());
  const std::string key = Prefix(transport, "expiry") + "claim";
  // etcd raises a 1 s TTL to its minimum (2 s with default timings).
  const int64_t lease = etcd->LeaseGrant(1, kTimeout);
  REQUIRE(etcd->PutIfAbsent(key, "holder", lease, kTimeout).created);
  CHECK(WaitUntilGone(*etcd, key, 20s));
  CHECK(etcd->LeaseKeepAliveOnce(lease, kTimeout) <= 0);
}

TEST_CASE("put-if-absent: the first claim wins, later ones see the holder", "[etcd-coordination]") {
  const std::string transport = GENERATE("gateway", "grpc", "auto");
  INFO("transport " << transport);
  auto etcd = Client(transport, g_etcd->url());
  const std::string key = Prefix(transport, "claim") + "2026-01-01T00:00:00Z";
  const std::string value_a("server-a\x00\xfe", 10);
  const int64_t lease_a = etcd->LeaseGrant(30, kTimeout);
  const int64_t lease_b = etcd->LeaseGrant(30, kTimeout);

  const EtcdClaim won = etcd->PutIfAbsent(key, value_a, lease_a, kTimeout);
  CHECK(won.created);
  CHECK(won.kv.value == value_a);
  CHECK(won.kv.lease == lease_a);
  CHECK(won.kv.mod_revision > 0);

  const EtcdClaim lost = etcd->PutIfAbsent(key, "server-b", lease_b, kTimeout);
  CHECK_FALSE(lost.created);
  CHECK(lost.kv.key == key);
  CHECK(lost.kv.value == value_a);
  CHECK(lost.kv.lease == lease_a);
  CHECK(lost.kv.mod_revision == won.kv.mod_revision);
  CHECK(lost.kv.create_revision == won.kv.create_revision);

  // The holder's lease ends: the next claim wins.
  etcd->LeaseRevoke(lease_a, kTimeout);
  const EtcdClaim next = etcd->PutIfAbsent(key, "server-b", lease_b, kTimeout);
  CHECK(next.created);
  CHECK(next.kv.mod_revision > won.kv.mod_revision);
  std::optional<EtcdKeyValue> kv = etcd->Get(key, kTimeout);
  REQUIRE(kv.has_value());
  CHECK(kv->value == "server-b");
  CHECK(kv->lease == lease_b);
  CHECK(kv->mod_revision == next.kv.mod_revision);
  etcd->LeaseRevoke(lease_b, kTimeout);
}

TEST_CASE("put-if-absent: of many racing claims exactly one wins", "[etcd-coordination]") {
  const std::string transport = GENERATE("gateway", "grpc");
  INFO("transport " << transport);
  const std::string key = Prefix(transport, "race") + "claim";
  auto etcd = Client(transport, g_etcd->url());
  const int64_t lease = etcd->LeaseGrant(30, kTimeout);
  constexpr int kClaimants = 8;
  std::vector<EtcdClaim> claims(kClaimants);
  std::vector<std::string> errors(kClaimants);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimants; ++i) {
    threads.emplace_back([&, i] {
      try {
        auto own = Client(transport, g_etcd->url());
        claims[i] = own->PutIfAbsent(key, "server-" + std::to_string(i), lease, kTimeout);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int winners = 0;
  std::string winner;
  for (int i = 0; i < kClaimants; ++i) {
    INFO("claimant " << i);
    CHECK(errors[i].empty());
    if (claims[i].created) {
      ++winners;
      winner = claims[i].kv.value;
    }
  }
  REQUIRE(winners == 1);
  for (const EtcdClaim& claim : claims) CHECK(claim.kv.value == winner);
  etcd->LeaseRevoke(lease, kTimeout);
}

TEST_CASE("get, put, delete-if-value and prefixes", "[etcd-coordination]") {
  const std::string transport = GENERATE("gateway", "grpc", "auto");
  INFO("transport " << transport);
  auto etcd = Client(transport, g_etcd->url());
  const std::string prefix = Prefix(transport, "kv");
  const std::string key = prefix + "a";

  CHECK_FALSE(etcd->Get(key, kTimeout).has_value());
  etcd->Put(key, std::string("v\0\xff", 3), 0, kTimeout);
  std::optional<EtcdKeyValue> kv = etcd->Get(key, kTimeout);
  REQUIRE(kv.has_value());
  CHECK(kv->key == key);
  CHECK(kv->value == std::string("v\0\xff", 3));
  CHECK(kv->lease == 0);
  CHECK(kv->version == 1);
  etcd->Put(key, "v2", 0, kTimeout);
  kv = etcd->Get(key, kTimeout);
  REQUIRE(kv.has_value());
  CHECK(kv->value == "v2");
  CHECK(kv->version == 2);

  CHECK_FALSE(etcd->DeleteIfValue(key, "someone else", kTimeout));
  CHECK(etcd->Get(key, kTimeout).has_value());
  CHECK(etcd->DeleteIfValue(key, "v2", kTimeout));
  CHECK_FALSE(etcd->Get(key, kTimeout).has_value());
  CHECK_FALSE(etcd->DeleteIfValue(key, "v2", kTimeout));  // absent
  // An empty value is a value.
  etcd->Put(key, "", 0, kTimeout);
  REQUIRE(etcd->Get(key, kTimeout).has_value());
  CHECK(etcd->Get(key, kTimeout)->value.empty());
  CHECK(etcd->DeleteIfValue(key, "", kTimeout));

  // A prefix range holds its keys in order, up to keys of 0xff bytes, and nothing beside.
  const std::string outside = EtcdPrefixEnd(prefix);
  etcd->Put(outside, "outside", 0, kTimeout);
  etcd->Put(prefix + "2", "two", 0, kTimeout);
  etcd->Put(prefix + "1", "one", 0, kTimeout);
  etcd->Put(prefix + "\xff\xff", "last", 0, kTimeout);
  std::vector<EtcdKeyValue> kvs = etcd->GetPrefix(prefix, kTimeout);
  REQUIRE(kvs.size() == 3);
  CHECK(kvs[0].key == prefix + "1");
  CHECK(kvs[1].value == "two");
  CHECK(kvs[2].value == "last");
  CHECK(etcd->DeletePrefix(prefix, kTimeout) == 3);
  CHECK(etcd->GetPrefix(prefix, kTimeout).empty());
  CHECK(etcd->Get(outside, kTimeout)->value == "outside");
  CHECK(etcd->DeleteIfValue(outside, "outside", kTimeout));
  RequireError([&] { etcd->GetPrefix("", kTimeout); }, ErrorKind::kInvalidInput, "empty");
}

TEST_CASE("errors name the call and the endpoint; an unreachable etcd is transient",
          "[etcd-coordination]") {
  const std::string transport = GENERATE("gateway", "grpc");
  INFO("transport " << transport);
  const std::string url = "http://127.0.0.1:" + std::to_string(FreePort());
  auto etcd = Client(transport, url);
  RequireError([&] { etcd->LeaseGrant(30, 2s); }, ErrorKind::kTransient,
               "etcd lease grant at " + url);
  RequireError([&] { etcd->PutIfAbsent("k\x01", "v", 0, 2s); }, ErrorKind::kTransient,
               "etcd put-if-absent of \"k\\x01\" at " + url);
  RequireError([&] { etcd->MemberList(2s); }, ErrorKind::kTransient, "etcd member list at " + url);
  // etcd's own refusals carry its message: an empty key.
  auto live = Client(transport, g_etcd->url());
  RequireError([&] { live->Put("", "v", 0, kTimeout); }, ErrorKind::kPermanent,
               "key is not provided");
}

TEST_CASE("HashKV: gRPC answers at a revision; 3.4's gateway has no route to it",
          "[etcd-coordination]") {
  auto grpc = Client("grpc", g_etcd->url());
  const std::string key = Prefix("grpc", "hashkv") + "k";
  grpc->Put(key, "one", 0, kTimeout);
  const int64_t first = grpc->Get(key, kTimeout)->mod_revision;
  grpc->Put(key, "two", 0, kTimeout);
  const EtcdKvHash at_first = grpc->HashKV(first, kTimeout);
  CHECK(at_first.revision == first);
  // A revision's hash does not change with later writes, and differs from a later revision's.
  CHECK(grpc->HashKV(first, kTimeout).hash == at_first.hash);
  const int64_t second = grpc->Get(key, kTimeout)->mod_revision;
  CHECK(grpc->HashKV(second, kTimeout).hash != at_first.hash);
  RequireError([&] { grpc->HashKV(second + 1000, kTimeout); }, ErrorKind::kPermanent,
               "future revision");
  // auto speaks gRPC here and gives the same answer.
  CHECK(Client("auto", g_etcd->url())->HashKV(first, kTimeout).hash == at_first.hash);
  auto gateway = Client("gateway", g_etcd->url());
  try {
    const EtcdKvHash via_gateway = gateway->HashKV(first, kTimeout);  // etcd 3.5 and later
    CHECK(via_gateway.hash == at_first.hash);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kPermanent);
    CHECK_THAT(e.what(), Catch::Contains("gateway has no HashKV"));
  }
}

int main(int argc, char* argv[]) {
  return snapd::test::RunWithEtcd(argc, argv, g_etcd, false, "etcd-coordination tests");
}
