// Tests of the increment recorder against a scripted watch, a scripted etcd and stores that keep
// increments in memory (and fail on request): what it writes, when, and when a chain ends.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "incremental/increment_chain.h"
#include "incremental/increment_codec.h"
#include "incremental/increment_recorder.h"
#include "incremental/stored_chain.h"

namespace snapd {
namespace {

using namespace std::chrono_literals;

// A store that keeps increments only; `fail_puts` makes PutIncrement throw as S3 down would.
class IncrementOnlyStore final : public SnapshotStore {
 public:
  explicit IncrementOnlyStore(std::string kind) : kind_(std::move(kind)) {}
  std::string_view Kind() const override { return kind_; }
  std::unique_ptr<SnapshotWriter> Create(const std::string&) override {
    throw Error::Permanent("not here");
  }
  std::vector<SnapshotRecord> List() override { return {}; }
  std::unique_ptr<ByteSource> Open(const std::string&) override {
    throw Error::NotFound("not here");
  }
  void Remove(const std::string&) override {}
  std::string ReadTokenBackup(const std::string&) override { throw Error::NotFound("none"); }
  int RemoveIncomplete() override { return 0; }
  void PutIncrement(const std::string& name, std::string_view bytes) override {
    std::lock_guard lock(mutex);
    if (fail_puts) throw Error::Transient(kind_ + " is down");
    increments[name] = std::string(bytes);
  }
  std::vector<std::string> ListIncrements() override {
    std::lock_guard lock(mutex);
    std::vector<std::string> names;
    for (const auto& [name, bytes] : increments) names.push_back(name);
    return names;
  }
  std::string ReadIncrement(const std::string& name) override {
    std::lock_guard lock(mutex);
    auto it = increments.find(name);
    if (it == increments.end()) throw Error::NotFound(name);
    return it->second;
  }
  size_t Count() {
    std::lock_guard lock(mutex);
    return increments.size();
  }

  std::mutex mutex;
  bool fail_puts = false;
  std::map<std::string, std::string> increments;

 private:
  std::string kind_;
};

// A watch fed by the test: each Deliver is one response; End makes WatchAll throw.
class ScriptedWatch final : public EtcdWatcher, public EtcdReplayClient {
 public:
  void WatchAll(int64_t start_revision, const std::atomic<bool>& stop,
                const std::function<void(EtcdWatchResponse&&)>& on_response) override {
    std::unique_lock lock(mutex_);
    started_from.push_back(start_revision);
    changed_.notify_all();
    while (!stop) {
      changed_.wait_for(lock, 10ms);
      if (!end_error_.empty()) {
        std::string error = end_error_;
        end_error_.clear();
        throw Error::Transient(error);
      }
      while (!responses_.empty()) {
        EtcdWatchResponse response = std::move(responses_.front());
        responses_.pop_front();
        lock.unlock();
        on_response(std::move(response));
        lock.lock();
      }
    }
  }
  EtcdRevisionProbe ProbeRevision(int64_t at_revision, std::chrono::milliseconds) override {
    std::lock_guard lock(mutex_);
    probed_at.push_back(at_revision);
    const bool gone = compacted;
    return {gone ? 0 : current.load(), gone};
  }
  int64_t ApplyRevision(const std::vector<EtcdEvent>&, std::chrono::milliseconds) override {
    throw Error::Permanent("not here");
  }
  bool LeaseGrantWithId(int64_t, int64_t, std::chrono::milliseconds) override { return false; }
  std::vector<int64_t> LeaseIds(std::chrono::milliseconds) override { return {}; }
  void Compact(int64_t, std::chrono::milliseconds) override {}

  // Puts at revisions [from, to], one event each, as one response; etcd is then at `to`.
  void Deliver(int64_t from, int64_t to) {
    EtcdWatchResponse response;
    for (int64_t r = from; r <= to; ++r) {
      EtcdEvent event;
      event.kv.key = "k/" + std::to_string(r);
      event.kv.value = std::string(100, 'v');
      event.kv.create_revision = r;
      event.kv.mod_revision = r;
      event.kv.version = 1;
      response.events.push_back(event);
    }
    std::lock_guard lock(mutex_);
    current = to;
    responses_.push_back(std::move(response));
    changed_.notify_all();
  }
  void End(const std::string& error) {
    std::lock_guard lock(mutex_);
    end_error_ = error;
  }
  size_t Watches() {
    std::lock_guard lock(mutex_);
    return started_from.size();
  }

  std::vector<int64_t> started_from;  // guarded by mutex_
  std::vector<int64_t> probed_at;
  std::atomic<int64_t> current{0};
  std::atomic<bool> compacted{false};

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<EtcdWatchResponse> responses_;
  std::string end_error_;
};

// Polls `done` until it holds, for at most 10 s: the recorder's threads decide when.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

ChainBase Base(const std::string& name, int64_t revision, std::vector<SnapshotStore*> stores) {
  ChainBase base;
  base.name = name;
  base.revision = revision;
  base.created_unix = 1'700'000'000;
  base.stores = std::move(stores);
  return base;
}

// The revisions held by `store`'s increments of `base`, as a chain read back would give them.
std::vector<int64_t> ChainRevisions(IncrementOnlyStore& store, const std::string& base,
                                    int64_t base_revision) {
  SnapshotRecord record;
  record.name = base;
  record.revision = static_cast<uint64_t>(base_revision);
  record.created_at = 1'700'000'000;
  ChainWindow window = WindowOf(record, ListIncrementNames(store));
  RevisionFeed feed = StoredChainFeed(store, window, {});
  std::vector<int64_t> revisions;
  for (std::vector<RecordedRevision> batch; feed(batch);) {
    for (const RecordedRevision& r : batch) revisions.push_back(r.revision);
  }
  return revisions;
}

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t r = from; r <= to; ++r) out.push_back(r);
  return out;
}

struct Fixture {
  ScriptedWatch etcd;
  IncrementOnlyStore local{"local"};
  IncrementOnlyStore s3{"s3"};
  std::atomic<int> bases_asked{0};
  std::unique_ptr<IncrementRecorder> recorder;

  explicit Fixture(std::chrono::milliseconds interval = 50ms) {
    IncrementRecorderOptions options;
    options.interval = interval;
    options.encoding.compress = true;
    options.buffer_limit = 64 * 1024;
    options.pending_limit = 256 * 1024;
    options.take_base = [this] {
      ++bases_asked;
      return false;
    };
    recorder = std::make_unique<IncrementRecorder>(options, etcd, etcd);
  }
};

TEST_CASE("recorder: asks for a base, then writes contiguous increments to every store",
          "[recorder]") {
  Fixture f;
  f.recorder->Start();
  REQUIRE(Eventually([&] { return f.bases_asked > 0; }));
  f.etcd.current = 10;
  f.recorder->StartChain(Base("etcd-snapshot-n1-1800000000", 10, {&f.local, &f.s3}));
  REQUIRE(Eventually([&] { return f.etcd.Watches() == 1; }));
  CHECK(f.etcd.started_from[0] == 11);
  f.etcd.Deliver(11, 15);
  f.etcd.Deliver(16, 16);
  REQUIRE(Eventually(
      [&] { return f.s3.Count() > 0 && f.recorder->Status().stores[1].last_revision == 16; }));
  f.etcd.Deliver(17, 30);
  REQUIRE(Eventually([&] { return f.recorder->Status().stores[0].last_revision == 30; }));
  f.recorder->Stop();
  CHECK(ChainRevisions(f.local, "etcd-snapshot-n1-1800000000", 10) == Range(11, 30));
  CHECK(ChainRevisions(f.s3, "etcd-snapshot-n1-1800000000", 10) == Range(11, 30));
  for (const auto& [name, bytes] : f.local.increments) CHECK(name.ends_with(".inc.zst"));
}

TEST_CASE("recorder: an idle chain writes nothing but stays confirmed complete", "[recorder]") {
  Fixture f;
  f.recorder->Start();
  f.etcd.current = 5;
  f.recorder->StartChain(Base("b", 5, {&f.local}));
  REQUIRE(Eventually([&] { return f.etcd.Watches() == 1; }));
  REQUIRE(Eventually([&] {
    RecorderStatus s = f.recorder->Status();
    return !s.stores.empty() && s.stores[0].complete_unix_ms > 1'700'000'000'000;
  }));
  const int64_t first = f.recorder->Status().stores[0].complete_unix_ms;
  REQUIRE(Eventually([&] { return f.recorder->Status().stores[0].complete_unix_ms > first; }));
  CHECK(f.local.Count() == 0);
  for (const auto& [storage, lag] : f.recorder->Lag()) CHECK(lag < 5);
  f.recorder->Stop();
}

TEST_CASE("recorder: a store that fails keeps its increments pending, then gets them in order",
          "[recorder]") {
  Fixture f;
  f.recorder->Start();
  f.etcd.current = 1;
  f.recorder->StartChain(Base("b", 1, {&f.local, &f.s3}));
  REQUIRE(Eventually([&] { return f.etcd.Watches() == 1; }));
  {
    std::lock_guard lock(f.s3.mutex);
    f.s3.fail_puts = true;
  }
  f.etcd.Deliver(2, 5);
  REQUIRE(Eventually([&] { return !f.recorder->Status().stores[1].error.empty(); }));
  f.etcd.Deliver(6, 9);
  REQUIRE(Eventually([&] { return f.recorder->Status().stores[0].last_revision == 9; }));
  CHECK(f.s3.Count() == 0);
  {
    std::lock_guard lock(f.s3.mutex);
    f.s3.fail_puts = false;
  }
  REQUIRE(Eventually([&] { return f.recorder->Status().stores[1].last_revision == 9; }));
  CHECK(f.recorder->Status().stores[1].error.empty());
  f.recorder->Stop();
  CHECK(ChainRevisions(f.s3, "b", 1) == Range(2, 9));
  CHECK(f.etcd.Watches() == 1);  // the chain never ended
}

TEST_CASE("recorder: a broken watch, a compaction and a gap each end the chain for a new base",
          "[recorder]") {
  Fixture f;
  f.recorder->Start();
  f.etcd.current = 1;
  f.recorder->StartChain(Base("b1", 1, {&f.local}));
  REQUIRE(Eventually([&] { return f.etcd.Watches() == 1; }));
  f.etcd.Deliver(2, 4);
  REQUIRE(Eventually([&] { return f.recorder->Status().stores[0].last_revision == 4; }));
  const int asked = f.bases_asked;
  f.etcd.End("stream reset");
  REQUIRE(Eventually([&] { return f.bases_asked > asked; }));
  CHECK(f.recorder->Status().last_error.find("stream reset") != std::string::npos);
  CHECK(ChainRevisions(f.local, "b1", 1) == Range(2, 4));

  f.recorder->StartChain(Base("b2", 4, {&f.local}));
  REQUIRE(Eventually([&] { return f.etcd.Watches() == 2; }));
  const int asked2 = f.bases_asked;
  f.etcd.compacted = true;
  REQUIRE(Eventually([&] { return f.bases_asked > asked2; }));
  CHECK(f.recorder->Status().last_error.find("compacted") != std::string::npos);
  f.etcd.compacted = false;

  // A response that skips a revision is never written past the gap.
  f.recorder->StartChain(Base("b3", 20, {&f.local}));
  REQUIRE(Eventually([&] { return f.etcd.Watches() == 3; }));
  f.etcd.Deliver(21, 22);
  REQUIRE(Eventually([&] { return f.recorder->Status().stores[0].last_revision == 22; }));
  const int asked3 = f.bases_asked;
  f.etcd.Deliver(24, 25);
  REQUIRE(Eventually([&] { return f.bases_asked > asked3; }));
  CHECK(f.recorder->Status().last_error.find("revision 24 where 23 was due") != std::string::npos);
  f.recorder->Stop();
  CHECK(ChainRevisions(f.local, "b3", 20) == Range(21, 22));
}

TEST_CASE("recorder: a full buffer is written before the interval", "[recorder]") {
  Fixture f(std::chrono::hours(1));
  f.recorder->Start();
  f.etcd.current = 1;
  f.recorder->StartChain(Base("b", 1, {&f.local}));
  REQUIRE(Eventually([&] { return f.etcd.Watches() == 1; }));
  // 64 KiB of buffer: 1,000 events of about 150 bytes pass it.
  f.etcd.Deliver(2, 1001);
  REQUIRE(Eventually([&] { return f.local.Count() > 0; }));
  f.recorder->Stop();  // writes the rest
  CHECK(ChainRevisions(f.local, "b", 1) == Range(2, 1001));
}

}  // namespace
}  // namespace snapd
