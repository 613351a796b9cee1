// Integration test of lib/inspect against a real etcd: fills it with puts, overwrites, deletes,
// values that need overflow pages, a lease and a compaction, saves snapshots through the gateway
// client, and checks that what the snapshot reader sees (live keys, revisions, HashKV) is what
// etcd itself answers (Range, and `etcdctl endpoint hashkv`). Exits 77 without etcd/etcdctl.
// With INSPECT_SEED_DIR set it also writes the small snapshot there (the fuzz seed corpus).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../unit/require_error.h"
#include "core/error.h"
#include "core/string_sink.h"
#include "etcd/gateway_etcd_client.h"
#include "etcd_test_main.h"
#include "inspect/snapshot_contents.h"

using namespace snapd;
using snapd::test::EtcdServer;
namespace fs = std::filesystem;

namespace {

constexpr std::chrono::seconds kTimeout{10};
const std::string kPrefix = "/inspect-it/";
EtcdServer* g_etcd = nullptr;

// Runs etcdctl (API v3) against the test's etcd; returns its stdout, or throws when it fails.
std::string Etcdctl(const std::string& args, int* status_out = nullptr) {
  const std::string command =
      "ETCDCTL_API=3 etcdctl --endpoints=" + g_etcd->url() + " " + args + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status_out != nullptr) {
    *status_out = status;
  } else if (status != 0) {
    throw std::runtime_error("etcdctl " + args + " failed: " + out);
  }
  return out;
}

// etcd's current revision (the header of a one-key range).
int64_t Revision() {
  const auto json = nlohmann::json::parse(Etcdctl("get x -w json"));
  return json["header"]["revision"].get<int64_t>();
}

struct EtcdHash {
  uint32_t hash = 0;
  int64_t compact_revision = 0;
};
EtcdHash EtcdHashKV(int64_t revision) {
  const auto json = nlohmann::json::parse(
      Etcdctl("endpoint hashkv --rev " + std::to_string(revision) + " -w json"));
  const auto& answer = json.at(0).at("HashKV");
  return EtcdHash{answer.at("hash").get<uint32_t>(), answer.value("compact_revision", int64_t{0})};
}

std::string SaveSnapshot(GatewayEtcdClient& etcd, const std::string& name) {
  std::string bytes;
  StringSink sink(bytes);
  etcd.Snapshot(sink, nullptr, {});
  const fs::path path = g_etcd->dir() / name;
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

std::string Pseudorandom(size_t size, uint32_t seed) {
  std::mt19937 random(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(random());
  return out;
}

// Checks the snapshot at `path`, taken when etcd was at `revision` and compacted at `compacted`,
// against etcd as it is now (unchanged since).
void CheckSnapshot(GatewayEtcdClient& etcd, const std::string& path, int64_t revision,
                   int64_t compacted, const std::vector<int64_t>& hash_revisions) {
  INFO("snapshot " << path << " at revision " << revision);
  const std::unique_ptr<SnapshotContents> contents = OpenSnapshotContents(path);
  CHECK(contents->revision() == revision);
  CHECK(contents->compact_revision() == compacted);

  const std::vector<EtcdKeyValue> expected = etcd.GetPrefix(kPrefix, kTimeout);
  std::vector<LiveKey> live;
  contents->ForEachLive("", false, [&](const LiveKey& k) { live.push_back(k); });
  CHECK(contents->stored_revisions() >= live.size());
  REQUIRE(live.size() == expected.size());
  for (size_t i = 0; i < live.size(); ++i) {
    INFO("key " << expected[i].key);
    CHECK(live[i].key == expected[i].key);
    CHECK(live[i].value == expected[i].value);
    CHECK(live[i].create_revision == expected[i].create_revision);
    CHECK(live[i].mod_revision == expected[i].mod_revision);
    CHECK(live[i].version == expected[i].version);
    CHECK(live[i].lease == expected[i].lease);
  }
  for (const EtcdKeyValue& kv : expected) {
    int found = 0;
    contents->ForEachLive(kv.key, true, [&](const LiveKey& k) {
      ++found;
      CHECK(k.value == kv.value);
    });
    CHECK(found == 1);
  }

  for (int64_t at : hash_revisions) {
    INFO("HashKV at " << at);
    const EtcdHash want = EtcdHashKV(at);
    const std::optional<KvHash> got = contents->HashKV(at);
    REQUIRE(got.has_value());
    CHECK(got->hash == want.hash);
    CHECK(got->revision == at);
    CHECK(got->compact_revision == want.compact_revision);
  }
  CHECK(contents->HashKV()->hash == EtcdHashKV(revision).hash);
  // etcd refuses the compacted revision, and so do we.
  int status = 0;
  Etcdctl("endpoint hashkv --rev " + std::to_string(compacted) + " -w json", &status);
  CHECK(status != 0);
  RequireError([&] { contents->HashKV(compacted); }, ErrorKind::kInvalidInput, "compacted");
}

}  // namespace

TEST_CASE("snapshot contents equal etcd's keys, revisions and HashKV", "[inspect-integration]") {
  GatewayEtcdClient etcd(EtcdEndpoint{g_etcd->url(), {}, std::chrono::seconds(60)});
  auto key = [](int i) { return kPrefix + "k" + (i < 10 ? "0" : "") + std::to_string(i); };

  // Before the compaction: puts, overwrites, a lease, a binary key, deletes.
  for (int i = 0; i < 30; ++i) etcd.Put(key(i), "v1-" + std::to_string(i), 0, kTimeout);
  for (int i = 0; i < 10; ++i) etcd.Put(key(i), "v2-" + std::to_string(i), 0, kTimeout);
  const int64_t lease = etcd.LeaseGrant(600, kTimeout);
  etcd.Put(kPrefix + "leased", "held", lease, kTimeout);
  etcd.Put(kPrefix + std::string("bin\0\xff", 5), std::string("\0\x01", 2), 0, kTimeout);
  const int64_t before_deletes = Revision();
  for (int i = 20; i < 25; ++i)
    CHECK(etcd.DeleteIfValue(key(i), "v1-" + std::to_string(i), kTimeout));
  CHECK(etcd.DeletePrefix(key(25), kTimeout) == 1);
  const int64_t after_deletes = Revision();
  etcd.Put(key(5), "v3-5", 0, kTimeout);
  const int64_t compacted = Revision();
  Etcdctl("compact " + std::to_string(compacted) + " --physical");
  REQUIRE(before_deletes < after_deletes);

  // After it: an overwrite, a deletion of a key untouched since before it, a key deleted before
  // it recreated.
  etcd.Put(key(0), "v3-0", 0, kTimeout);
  const int64_t after_compaction = Revision();
  CHECK(etcd.DeleteIfValue(key(26), "v1-26", kTimeout));
  const int64_t after_delete = Revision();
  etcd.Put(key(20), "reborn", 0, kTimeout);
  const int64_t small_revision = Revision();
  const std::string small = SaveSnapshot(etcd, "small.db");
  CheckSnapshot(etcd, small, small_revision, compacted,
                {compacted + 1, after_compaction, after_delete, small_revision});
  if (const char* seeds = std::getenv("INSPECT_SEED_DIR")) {
    fs::create_directories(seeds);
    fs::copy_file(small, fs::path(seeds) / "etcd-compacted", fs::copy_options::overwrite_existing);
  }

  // Values on overflow pages: 20 KiB (five pages) and 1 MiB; one of them overwritten.
  etcd.Put(kPrefix + "big-20k", Pseudorandom(20 << 10, 1), 0, kTimeout);
  etcd.Put(kPrefix + "big-1m", Pseudorandom(1 << 20, 2), 0, kTimeout);
  const int64_t with_big = Revision();
  etcd.Put(kPrefix + "big-20k", Pseudorandom(20 << 10, 3), 0, kTimeout);
  CHECK(etcd.DeleteIfValue(key(27), "v1-27", kTimeout));
  const int64_t big_revision = Revision();
  const std::string big = SaveSnapshot(etcd, "big.db");
  CheckSnapshot(
      etcd, big, big_revision, compacted,
      {compacted + 1, after_delete, small_revision, with_big, big_revision - 1, big_revision});
}

int main(int argc, char* argv[]) {
  return snapd::test::RunWithEtcd(argc, argv, g_etcd, true, "inspect integration tests");
}
