// Integration tests of point-in-time recovery's etcd calls over gRPC against real etcds: the watch
// of every key (history, live changes, stop, compaction, errors) and the replay calls (probe,
// apply a recorded revision, leases by id, compaction). Without `etcd` installed the test exits
// 77 (skipped). Waits poll state with a bound; nothing sleeps for a result.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../unit/require_error.h"
#include "core/error.h"
#include "etcd/grpc_etcd_client.h"
#include "etcd_test_main.h"

using namespace snapd;
using namespace std::chrono_literals;

namespace {

constexpr auto kTimeout = 5s;
constexpr auto kBound = 10s;

using test::EtcdServer;
using test::OnPath;

EtcdServer* g_etcd = nullptr;

EtcdEndpoint Endpoint(const std::string& url) {
  return EtcdEndpoint{url, {}, 60s};
}

// Keys no text encoding keeps.
std::string Key(const std::string& test, const std::string& name) {
  return "/k3s-snapd-watch-it/" + test + std::string("/\x00\xff", 3) + name;
}

// WatchAll on its own thread, collecting the responses until Stop.
class WatchThread {
 public:
  WatchThread(EtcdWatcher& watcher, int64_t start_revision)
      : thread_([this, &watcher, start_revision] {
          try {
            watcher.WatchAll(start_revision, stop_, [this](EtcdWatchResponse&& response) {
              std::lock_guard lock(mutex_);
              responses_.push_back(std::move(response));
              changed_.notify_all();
            });
          } catch (...) {
            std::lock_guard lock(mutex_);
            error_ = std::current_exception();
          }
          std::lock_guard lock(mutex_);
          ended_ = true;
          changed_.notify_all();
        }) {}
  ~WatchThread() { Stop(); }

  // Whether an event of `revision` (or later) arrived within kBound.
  bool WaitFor(int64_t revision) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kBound, [&] {
      return ended_ ||
             (!responses_.empty() && responses_.back().events.back().kv.mod_revision >= revision);
    }) && !ended_;
  }
  // Whether WatchAll returned within kBound; its exception is rethrown.
  bool WaitEnded() {
    std::unique_lock lock(mutex_);
    const bool ended = changed_.wait_for(lock, kBound, [&] { return ended_; });
    if (error_) std::rethrow_exception(error_);
    return ended;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<EtcdWatchResponse> responses() {
    std::lock_guard lock(mutex_);
    return responses_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<EtcdWatchResponse> responses_;
  std::exception_ptr error_;
  bool ended_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

int64_t CurrentRevision(EtcdReplayClient& etcd) {
  return etcd.ProbeRevision(0, kTimeout).current_revision;
}

// Every event of `responses` in order.
std::vector<EtcdEvent> Events(const std::vector<EtcdWatchResponse>& responses) {
  std::vector<EtcdEvent> events;
  for (const EtcdWatchResponse& response : responses) {
    for (const EtcdEvent& event : response.events) events.push_back(event);
  }
  return events;
}

void CheckEvent(const EtcdEvent& event, bool is_delete, const std::string& key,
                const std::string& value, int64_t lease, int64_t create, int64_t mod,
                int64_t version) {
  INFO("event of " << EtcdKeyForMessage(key) << " at revision " << mod);
  CHECK(event.is_delete == is_delete);
  CHECK(event.kv.key == key);
  CHECK(event.kv.value == value);
  CHECK(event.kv.lease == lease);
  CHECK(event.kv.create_revision == create);
  CHECK(event.kv.mod_revision == mod);
  CHECK(event.kv.version == version);
}

EtcdEvent Put(const std::string& key, const std::string& value, int64_t lease = 0) {
  EtcdEvent event;
  event.kv.key = key;
  event.kv.value = value;
  event.kv.lease = lease;
  return event;
}

}  // namespace

TEST_CASE("watch: every put and delete from a revision, history then live", "[etcd-watch]") {
  GrpcEtcdClient etcd(Endpoint(g_etcd->url()));
  const std::string a = Key("order", "a"), b = Key("order", "b");
  const std::string value("\0bin\0\xff", 6);
  const int64_t lease = etcd.LeaseGrant(60, kTimeout);
  const int64_t r0 = CurrentRevision(etcd);
  // History: written before the watch starts.
  etcd.Put(a, value, lease, kTimeout);            // r0 + 1
  etcd.Put(a, "", lease, kTimeout);               // r0 + 2: version 2
  etcd.Put(b, "b", 0, kTimeout);                  // r0 + 3
  REQUIRE(etcd.DeleteIfValue(b, "b", kTimeout));  // r0 + 4

  WatchThread watch(etcd, r0 + 1);
  REQUIRE(watch.WaitFor(r0 + 4));
  // Live: one transaction of three puts, then one delete of four keys.
  const std::vector<EtcdEvent> txn = {Put(Key("order", "c1"), "1"),
                                      Put(Key("order", "c2"), "2", lease),
                                      Put(Key("order", "c3"), std::string(1, '\0'))};
  REQUIRE(etcd.ApplyRevision(txn, kTimeout) == r0 + 5);
  REQUIRE(etcd.DeletePrefix(Key("order", ""), kTimeout) == 4);  // r0 + 6
  REQUIRE(watch.WaitFor(r0 + 6));
  watch.Stop();
  REQUIRE_NOTHROW(watch.WaitEnded());

  const std::vector<EtcdWatchResponse> responses = watch.responses();
  const std::vector<EtcdEvent> events = Events(responses);
  REQUIRE(events.size() == 11);
  CheckEvent(events[0], false, a, value, lease, r0 + 1, r0 + 1, 1);
  CheckEvent(events[1], false, a, "", lease, r0 + 1, r0 + 2, 2);
  CheckEvent(events[2], false, b, "b", 0, r0 + 3, r0 + 3, 1);
  CheckEvent(events[3], true, b, "", 0, 0, r0 + 4, 0);
  CheckEvent(events[4], false, txn[0].kv.key, "1", 0, r0 + 5, r0 + 5, 1);
  CheckEvent(events[5], false, txn[1].kv.key, "2", lease, r0 + 5, r0 + 5, 1);
  CheckEvent(events[6], false, txn[2].kv.key, std::string(1, '\0'), 0, r0 + 5, r0 + 5, 1);
  // A range delete: one event per key, in key order, all of one revision.
  CheckEvent(events[7], true, a, "", 0, 0, r0 + 6, 0);
  for (int i = 0; i < 3; ++i) CheckEvent(events[8 + i], true, txn[i].kv.key, "", 0, 0, r0 + 6, 0);
  // No revision is split across responses; headers are at or past their events.
  std::map<int64_t, size_t> response_of_revision;
  for (size_t i = 0; i < responses.size(); ++i) {
    CHECK(responses[i].header_revision >= responses[i].events.back().kv.mod_revision);
    for (const EtcdEvent& event : responses[i].events) {
      const auto [it, inserted] = response_of_revision.emplace(event.kv.mod_revision, i);
      CHECK(it->second == i);
    }
  }
  etcd.LeaseRevoke(lease, kTimeout);
}

TEST_CASE("watch: the stop flag ends an idle watch promptly", "[etcd-watch]") {
  GrpcEtcdClient etcd(Endpoint(g_etcd->url()));
  const int64_t start = CurrentRevision(etcd) + 1;
  WatchThread watch(etcd, start);
  etcd.Put(Key("stop", "k"), "v", 0, kTimeout);
  REQUIRE(watch.WaitFor(start));  // the watch is live; nothing more will come
  const auto before = std::chrono::steady_clock::now();
  watch.Stop();
  CHECK(std::chrono::steady_clock::now() - before < 2s);
  REQUIRE_NOTHROW(watch.WaitEnded());
}

TEST_CASE("watch and probe: compacted revisions", "[etcd-watch]") {
  GrpcEtcdClient etcd(Endpoint(g_etcd->url()));
  etcd.Put(Key("compact", "k"), "1", 0, kTimeout);
  const int64_t first = CurrentRevision(etcd);
  etcd.Put(Key("compact", "k"), "2", 0, kTimeout);
  const int64_t last = CurrentRevision(etcd);

  const EtcdRevisionProbe before = etcd.ProbeRevision(first, kTimeout);
  CHECK((!before.compacted && before.current_revision == last));
  etcd.Compact(last, kTimeout);
  const EtcdRevisionProbe after = etcd.ProbeRevision(first, kTimeout);
  CHECK((after.compacted && after.current_revision == 0));
  const EtcdRevisionProbe at_compaction = etcd.ProbeRevision(last, kTimeout);
  CHECK((!at_compaction.compacted && at_compaction.current_revision == last));
  // A future revision is another OUT_OF_RANGE answer: an error, not "compacted".
  RequireError([&] { etcd.ProbeRevision(last + 1000, kTimeout); }, ErrorKind::kPermanent,
               "future revision");

  WatchThread watch(etcd, first);
  RequireError([&] { watch.WaitEnded(); }, ErrorKind::kPermanent,
               "watch from revision " + std::to_string(first) + ": etcd compacted to revision " +
                   std::to_string(last));
  CHECK(watch.responses().empty());
}

TEST_CASE("watch: an exception from on_response ends it and propagates", "[etcd-watch]") {
  GrpcEtcdClient etcd(Endpoint(g_etcd->url()));
  etcd.Put(Key("throw", "k"), "v", 0, kTimeout);
  const int64_t revision = CurrentRevision(etcd);
  std::atomic<bool> stop{false};
  int calls = 0;
  auto full = [&](EtcdWatchResponse&&) {
    ++calls;
    throw Error::Corrupt("recorder: full");
  };
  try {
    etcd.WatchAll(revision, stop, full);
    FAIL("WatchAll returned");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kCorrupt);
    CHECK(std::string(e.what()) == "recorder: full");  // unchanged, no context added
  }
  CHECK(calls == 1);
  CHECK_THROWS_WITH(
      etcd.WatchAll(revision, stop, [](EtcdWatchResponse&&) { throw std::runtime_error("boom"); }),
      "boom");
}

TEST_CASE("watch: etcd going away is transient", "[etcd-watch]") {
  auto server = std::make_unique<EtcdServer>();
  GrpcEtcdClient etcd(Endpoint(server->url()));
  etcd.Put("k", "v", 0, kTimeout);
  const int64_t revision = CurrentRevision(etcd);
  WatchThread watch(etcd, revision);
  REQUIRE(watch.WaitFor(revision));
  server.reset();  // SIGKILL: the connection closes
  RequireError([&] { watch.WaitEnded(); }, ErrorKind::kTransient, "");
}

TEST_CASE("replay: leases by id", "[etcd-watch]") {
  AutoEtcdClient etcd(Endpoint(g_etcd->url()));  // forwards to gRPC
  constexpr int64_t kId = 0x5eed0000c0ffee;
  REQUIRE(etcd.LeaseGrantWithId(kId, 60, kTimeout));
  CHECK_FALSE(etcd.LeaseGrantWithId(kId, 60, kTimeout));
  const std::vector<int64_t> ids = etcd.LeaseIds(kTimeout);
  CHECK(std::find(ids.begin(), ids.end(), kId) != ids.end());
  etcd.LeaseRevoke(kId, kTimeout);
  const std::vector<int64_t> left = etcd.LeaseIds(kTimeout);
  CHECK(std::find(left.begin(), left.end(), kId) == left.end());
  CHECK(etcd.transport() == "grpc");
}

TEST_CASE("replay: recorded revisions applied to a second etcd keep their numbers",
          "[etcd-watch]") {
  // Two fresh etcds: both at revision 1.
  EtcdServer source_server, target_server;
  GrpcEtcdClient source(Endpoint(source_server.url()));
  GrpcEtcdClient target(Endpoint(target_server.url()));
  REQUIRE(CurrentRevision(source) == CurrentRevision(target));
  const int64_t start = CurrentRevision(source) + 1;

  WatchThread watch(source, start);
  const int64_t lease = source.LeaseGrant(600, kTimeout);
  source.Put("/registry/a", std::string("\0a", 2), lease, kTimeout);
  source.Put("/registry/b", "b", 0, kTimeout);
  source.ApplyRevision({Put("/registry/c", "c", lease), Put("/registry/a", "a2")}, kTimeout);
  REQUIRE(source.DeleteIfValue("/registry/b", "b", kTimeout));
  source.DeletePrefix("/registry/c", kTimeout);
  const int64_t last = CurrentRevision(source);
  REQUIRE(watch.WaitFor(last));
  watch.Stop();

  // Replay revision by revision: the leases first, then one transaction per revision.
  std::map<int64_t, std::vector<EtcdEvent>> revisions;
  for (const EtcdEvent& event : Events(watch.responses())) {
    revisions[event.kv.mod_revision].push_back(event);
  }
  REQUIRE(revisions.size() == static_cast<size_t>(last - start + 1));
  for (const auto& [revision, events] : revisions) {
    for (const EtcdEvent& event : events) {
      if (event.kv.lease != 0) target.LeaseGrantWithId(event.kv.lease, 600, kTimeout);
    }
    CHECK(target.ApplyRevision(events, kTimeout) == revision);
  }
  CHECK(CurrentRevision(target) == last);
  const std::vector<EtcdKeyValue> want = source.GetPrefix("/registry/", kTimeout);
  const std::vector<EtcdKeyValue> got = target.GetPrefix("/registry/", kTimeout);
  REQUIRE(got.size() == want.size());
  REQUIRE(got.size() == 1);
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK((got[i].key == want[i].key && got[i].value == want[i].value));
    CHECK((got[i].lease == want[i].lease && got[i].version == want[i].version));
    CHECK((got[i].create_revision == want[i].create_revision &&
           got[i].mod_revision == want[i].mod_revision));
  }
  CHECK(source.HashKV(last, kTimeout).hash == target.HashKV(last, kTimeout).hash);
}

int main(int argc, char* argv[]) {
  return snapd::test::RunWithEtcd(argc, argv, g_etcd, false, "etcd-watch tests");
}
