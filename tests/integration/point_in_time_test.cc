// BuildPointInTime against real etcds: a base snapshot and the revisions a watch recorded after
// it replayed into a throwaway etcd must give, at each target, exactly the keys and the HashKV the
// original had at that revision. Exits 77 without etcd/etcdctl.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <dirent.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../unit/require_error.h"
#include "core/encoding.h"
#include "core/error.h"
#include "core/string_sink.h"
#include "etcd/grpc_etcd_client.h"
#include "etcd_test_main.h"
#include "incremental/increment_chain.h"
#include "incremental/point_in_time.h"
#include "inspect/snapshot_contents.h"

using namespace snapd;
using snapd::test::EtcdServer;
namespace fs = std::filesystem;

namespace {

constexpr std::chrono::seconds kTimeout{10};
EtcdServer* g_etcd = nullptr;

// etcdctl (API v3) against the original etcd, `input` on its stdin; returns its stdout.
std::string Etcdctl(const std::string& args, const std::string& input = "") {
  const fs::path in = g_etcd->dir() / "etcdctl.in";
  std::ofstream(in, std::ios::binary) << input;
  const std::string command = "ETCDCTL_API=3 etcdctl --endpoints=" + g_etcd->url() + " " + args +
                              " <" + in.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  if (::pclose(pipe) != 0) throw std::runtime_error("etcdctl " + args + " failed: " + out);
  return out;
}

std::string Decoded(const nlohmann::json& field) {
  std::string out;
  if (field.is_string()) Base64DecodeAppend(field.get<std::string>(), out);
  return out;
}

struct Key {
  std::string value;
  int64_t create_revision = 0, mod_revision = 0, version = 0, lease = 0;
  bool operator==(const Key&) const = default;
};
using Keys = std::map<std::string, Key>;

// The original's live keys at `revision` (a Range at that revision).
Keys OriginalKeys(int64_t revision) {
  const auto json = nlohmann::json::parse(
      Etcdctl("get --prefix '' --rev " + std::to_string(revision) + " -w json"));
  Keys keys;
  for (const auto& kv : json.value("kvs", nlohmann::json::array())) {
    keys[Decoded(kv["key"])] = Key{Decoded(kv["value"]), kv.value("create_revision", int64_t{0}),
                                   kv.value("mod_revision", int64_t{0}),
                                   kv.value("version", int64_t{0}), kv.value("lease", int64_t{0})};
  }
  return keys;
}

Keys SnapshotKeys(const SnapshotContents& contents) {
  Keys keys;
  contents.ForEachLive("", false, [&](const LiveKey& k) {
    keys[std::string(k.key)] =
        Key{std::string(k.value), k.create_revision, k.mod_revision, k.version, k.lease};
  });
  return keys;
}

// Whether any process still runs with `text` in its command line (the throwaway's data dir).
bool ProcessMentions(const std::string& text) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(text) != std::string::npos) return true;
  }
  return false;
}

// The scenario, made once: a base snapshot, then changes a watch records from the base on.
struct Recorded {
  std::string base_path;
  int64_t base = 0;
  int64_t last = 0;
  int64_t leased_revision = 0;  // a put attached to a lease granted after the base
  std::vector<RecordedRevision> revisions;
};

Recorded Record() {
  GrpcEtcdClient etcd(EtcdEndpoint{g_etcd->url(), {}, std::chrono::seconds(60)});
  for (int i = 0; i < 10; ++i) etcd.Put("/pit/k" + std::to_string(i), "v1", 0, kTimeout);
  const int64_t base_lease = etcd.LeaseGrant(600, kTimeout);
  etcd.Put("/pit/base-leased", "held", base_lease, kTimeout);
  etcd.Put("/pit/k1", "v2", 0, kTimeout);

  Recorded recorded;
  recorded.base_path = (g_etcd->dir() / "base.db").string();
  {
    std::string bytes;
    StringSink sink(bytes);
    etcd.Snapshot(sink, nullptr, {});
    std::ofstream(recorded.base_path, std::ios::binary) << bytes;
  }
  recorded.base = OpenSnapshotContents(recorded.base_path)->revision();

  // The watch collects into revisions; received times are made up but increasing.
  std::mutex mutex;
  std::condition_variable arrived;
  std::atomic<bool> stop{false};
  int64_t seen = recorded.base;
  std::string watch_error;
  std::thread watcher([&] {
    try {
      etcd.WatchAll(recorded.base + 1, stop, [&](EtcdWatchResponse&& response) {
        std::lock_guard lock(mutex);
        for (EtcdEvent& event : response.events) {
          const int64_t revision = event.kv.mod_revision;
          if (recorded.revisions.empty() || recorded.revisions.back().revision != revision) {
            recorded.revisions.push_back(RecordedRevision{revision, 1'000'000 + revision * 10, {}});
          }
          recorded.revisions.back().events.push_back(std::move(event));
          seen = revision;
        }
        arrived.notify_all();
      });
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex);
      watch_error = e.what();
      arrived.notify_all();
    }
  });

  etcd.Put("/pit/bin", std::string("\0\x01\xff\n", 4), 0, kTimeout);           // B+1
  etcd.Put("/pit/k2", "v2", 0, kTimeout);                                      // B+2
  Etcdctl("txn", "\nput /pit/k3 t1\nput /pit/txn-new t2\ndel /pit/k4\n\n\n");  // B+3
  CHECK(etcd.DeletePrefix("/pit/k5", kTimeout) == 1);                          // B+4
  CHECK(etcd.DeletePrefix("/pit/k6", kTimeout) + etcd.DeletePrefix("/pit/k7", kTimeout) == 2);
  const int64_t lease = etcd.LeaseGrant(600, kTimeout);
  etcd.Put("/pit/leased", "v", lease, kTimeout);
  recorded.leased_revision = etcd.ProbeRevision(0, kTimeout).current_revision;
  const int64_t doomed = etcd.LeaseGrant(600, kTimeout);
  etcd.Put("/pit/doomed-a", "x", doomed, kTimeout);
  etcd.Put("/pit/doomed-b", "y", doomed, kTimeout);
  etcd.LeaseRevoke(doomed, kTimeout);  // one revision deleting both
  etcd.Put("/pit/k7", "reborn", 0, kTimeout);
  etcd.Put(std::string("/pit/\xfe\x00", 7), std::string(40000, 'z'), 0, kTimeout);
  recorded.last = etcd.ProbeRevision(0, kTimeout).current_revision;

  {
    std::unique_lock lock(mutex);
    arrived.wait(lock, [&] { return seen >= recorded.last || !watch_error.empty(); });
  }
  stop = true;
  watcher.join();
  REQUIRE(watch_error.empty());
  return recorded;
}

const Recorded& Scenario() {
  static const Recorded recorded = Record();
  return recorded;
}

// Feeds `revisions` three at a time, as increments would.
RevisionFeed FeedOf(std::vector<RecordedRevision> revisions) {
  auto next = std::make_shared<size_t>(0);
  auto all = std::make_shared<std::vector<RecordedRevision>>(std::move(revisions));
  return [next, all](std::vector<RecordedRevision>& batch) {
    if (*next >= all->size()) return false;
    for (int i = 0; i < 3 && *next < all->size(); ++i) batch.push_back((*all)[(*next)++]);
    return true;
  };
}

struct Build {
  PointInTimeOptions options;
  std::vector<std::string> log;
  explicit Build(const std::string& name) {
    const fs::path dir = g_etcd->dir() / name;
    fs::create_directories(dir / "work");
    options.base_path = Scenario().base_path;
    options.base_revision = Scenario().base;
    options.work_dir = (dir / "work").string();
    options.output_path = (dir / "pit.db").string();
  }
  PointInTimeResult Run(const ReplayTarget& target, std::vector<RecordedRevision> revisions,
                        const std::atomic<bool>* cancel = nullptr) {
    return BuildPointInTime(options, target, FeedOf(std::move(revisions)), cancel,
                            [this](const std::string& line) {
                              log.push_back(line);
                              UNSCOPED_INFO(line);
                              if (std::getenv("PIT_LOG") != nullptr) std::puts(line.c_str());
                            });
  }
  // Nothing of the throwaway is left: no process on its data dir, an empty work dir.
  void CheckCleanedUp() const {
    CHECK_FALSE(ProcessMentions(options.work_dir + "/etcd-data"));
    CHECK(fs::is_empty(options.work_dir));
  }
};

// The result at `revision` holds what the original held then, and hashes as it did.
void CheckAt(int64_t revision, const ReplayTarget& target) {
  INFO("target " << DescribeTarget(target) << ", revision " << revision);
  const Recorded& recorded = Scenario();
  Build build("at-" + std::to_string(revision) + (target.unix_ms ? "-time" : ""));
  const PointInTimeResult result = build.Run(target, recorded.revisions);
  build.CheckCleanedUp();
  CHECK(result.revision == revision);
  CHECK(result.replayed == revision - recorded.base);
  if (revision > recorded.base) CHECK(result.last_received_unix_ms == 1'000'000 + revision * 10);
  CHECK(result.size == fs::file_size(build.options.output_path));
  CHECK((fs::status(build.options.output_path).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));

  GrpcEtcdClient original(EtcdEndpoint{g_etcd->url(), {}, std::chrono::seconds(60)});
  CHECK(result.hash_kv.hash == original.HashKV(revision, kTimeout).hash);
  const auto contents = OpenSnapshotContents(build.options.output_path);
  CHECK(contents->revision() == revision);
  CHECK(SnapshotKeys(*contents) == OriginalKeys(revision));
  CHECK(contents->HashKV(revision)->hash == result.hash_kv.hash);
}

}  // namespace

TEST_CASE("the replay rebuilds the original at each target", "[pit-integration]") {
  const Recorded& recorded = Scenario();
  REQUIRE(recorded.last - recorded.base >= 12);
  REQUIRE(recorded.revisions.size() == static_cast<size_t>(recorded.last - recorded.base));
  REQUIRE(recorded.revisions[2].events.size() == 3);  // the txn

  CheckAt(recorded.base, ReplayTarget{recorded.base, std::nullopt});
  CheckAt(recorded.base + 3, ReplayTarget{recorded.base + 3, std::nullopt});
  CheckAt(recorded.leased_revision, ReplayTarget{recorded.leased_revision, std::nullopt});
  CheckAt(recorded.last, ReplayTarget{recorded.last, std::nullopt});
  // Between two received times: the earlier revision.
  const int64_t between = recorded.revisions[4].received_unix_ms + 5;
  CheckAt(recorded.base + 5, ReplayTarget{std::nullopt, between});
}

TEST_CASE("a feed short of the target revision is refused", "[pit-integration]") {
  const Recorded& recorded = Scenario();
  std::vector<RecordedRevision> short_feed(recorded.revisions.begin(),
                                           recorded.revisions.end() - 2);
  Build build("short");
  RequireError(
      [&] {
        build.Run(ReplayTarget{recorded.last, std::nullopt}, short_feed);
      },
      ErrorKind::kInvalidInput,
      "reach revision " + std::to_string(recorded.last - 2) + ", not revision " +
          std::to_string(recorded.last));
  build.CheckCleanedUp();
  CHECK_FALSE(fs::exists(build.options.output_path));
}

TEST_CASE("a gap in the revisions is a divergence", "[pit-integration]") {
  const Recorded& recorded = Scenario();
  std::vector<RecordedRevision> gap = recorded.revisions;
  gap.erase(gap.begin() + 1);
  Build build("gap");
  RequireError(
      [&] {
        build.Run(ReplayTarget{recorded.last, std::nullopt}, gap);
      },
      ErrorKind::kCorrupt,
      "replay diverged at revision " + std::to_string(recorded.base + 3) + ": etcd gave " +
          std::to_string(recorded.base + 2));
  build.CheckCleanedUp();
  CHECK_FALSE(fs::exists(build.options.output_path));
}

TEST_CASE("a base at another revision is refused", "[pit-integration]") {
  Build build("wrong-base");
  build.options.base_revision = Scenario().base - 1;
  RequireError(
      [&] {
        build.Run(ReplayTarget{Scenario().last, std::nullopt}, {});
      },
      ErrorKind::kCorrupt,
      "base snapshot is at revision " + std::to_string(Scenario().base) + ", expected " +
          std::to_string(Scenario().base - 1));
  build.CheckCleanedUp();
}

TEST_CASE("a cancelled replay stops", "[pit-integration]") {
  const std::atomic<bool> cancel{true};
  Build build("cancel");
  RequireError(
      [&] {
        build.Run(ReplayTarget{Scenario().last, std::nullopt}, Scenario().revisions, &cancel);
      },
      ErrorKind::kCancelled, "cancelled");
  build.CheckCleanedUp();
}

TEST_CASE("a throwaway etcd that cannot run is reported", "[pit-integration]") {
  Build missing("no-etcd");
  missing.options.etcd_binary = "/nonexistent/etcd";
  RequireError(
      [&] {
        missing.Run(ReplayTarget{Scenario().last, std::nullopt}, {});
      },
      ErrorKind::kNotFound, "/nonexistent/etcd");
  missing.CheckCleanedUp();

  Build garbage("bad-base");
  garbage.options.base_path = (g_etcd->dir() / "garbage.db").string();
  std::ofstream(garbage.options.base_path) << std::string(8192, 'g');
  RequireError(
      [&] {
        garbage.Run(ReplayTarget{Scenario().last, std::nullopt}, {});
      },
      ErrorKind::kPermanent, "snapshot restore " + garbage.options.base_path);
  garbage.CheckCleanedUp();
}

// Hidden: replay speed over PIT_BENCH_REVISIONS (2000) made-up one-put revisions; run with
// PIT_LOG=1 and "[pit-bench]" to see it.
TEST_CASE("replay speed", "[.][pit-bench]") {
  const char* count_text = std::getenv("PIT_BENCH_REVISIONS");
  const int64_t count = count_text != nullptr ? std::atoll(count_text) : 2000;
  std::vector<RecordedRevision> revisions;
  for (int64_t i = 1; i <= count; ++i) {
    EtcdEvent put;
    put.kv.key = "/bench/" + std::to_string(i % 500);
    put.kv.value = std::string(200, 'b');
    put.kv.mod_revision = Scenario().base + i;
    revisions.push_back(RecordedRevision{Scenario().base + i, i, {put}});
  }
  Build build("bench");
  const PointInTimeResult result =
      build.Run(ReplayTarget{Scenario().base + count, std::nullopt}, revisions);
  CHECK(result.replayed == count);
}

int main(int argc, char* argv[]) {
  return snapd::test::RunWithEtcd(argc, argv, g_etcd, true, "point-in-time tests");
}
