// Tests of the Prometheus metrics: the registry's text exposition, k3s-snapd's metric set, and
// what SnapshotService records as it saves, deletes and prunes.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backup/job_runner.h"
#include "backup/snapshot_service.h"
#include "control/api_router.h"
#include "core/digest.h"
#include "core/error.h"
#include "datastore/etcd_datastore.h"
#include "metrics/metrics_registry.h"
#include "metrics/snapshot_metrics.h"

namespace snapd {
namespace {

using namespace std::chrono_literals;

ErrorKind KindOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.kind();
  }
  FAIL("expected snapd::Error");
  return ErrorKind::kPermanent;
}

// The value of the sample `series` (name plus labels, as rendered), or nullopt if absent.
std::optional<std::string> Sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(series + " ")) return line.substr(series.size() + 1);
  }
  return std::nullopt;
}

bool HasFamily(const std::string& text, const std::string& name) {
  return text.find("# TYPE " + name + " ") != std::string::npos;
}

TEST_CASE("registry renders counters and gauges in the text format", "[metrics]") {
  MetricsRegistry registry;
  Counter& saves = registry.AddCounter("saves_total", "Saves by result.", {"storage", "result"});
  Gauge& up = registry.AddGauge("up", "Whether it is up.");
  saves.Increment({"s3", "success"});
  saves.Increment({"local", "success"}, 2);
  saves.Touch({"local", "failure"});
  saves.Touch({"local", "success"});  // an existing series keeps its value
  up.Set(1);

  CHECK(registry.Render() ==
        "# HELP saves_total Saves by result.\n"
        "# TYPE saves_total counter\n"
        "saves_total{storage=\"local\",result=\"failure\"} 0\n"
        "saves_total{storage=\"local\",result=\"success\"} 2\n"
        "saves_total{storage=\"s3\",result=\"success\"} 1\n"
        "# HELP up Whether it is up.\n"
        "# TYPE up gauge\n"
        "up 1\n");
  CHECK(saves.Value({"local", "success"}) == 2);
  CHECK(saves.Value({"s3", "failure"}) == 0);
  CHECK(up.Value() == 1.0);
}

TEST_CASE("a family without series renders only its HELP and TYPE", "[metrics]") {
  MetricsRegistry registry;
  registry.AddGauge("stored", "Stored.", {"storage"});
  CHECK(registry.Render() == "# HELP stored Stored.\n# TYPE stored gauge\n");
}

TEST_CASE("label values and help text are escaped", "[metrics]") {
  MetricsRegistry registry;
  Gauge& g = registry.AddGauge("g", "Back\\slash and\nnewline \"quoted\".", {"v"});
  g.Set({"a\\b\"c\nd"}, 3);
  CHECK(registry.Render() ==
        "# HELP g Back\\\\slash and\\nnewline \"quoted\".\n"
        "# TYPE g gauge\n"
        "g{v=\"a\\\\b\\\"c\\nd\"} 3\n");
  CHECK(EscapeLabelValue("plain") == "plain");
}

TEST_CASE("histogram renders cumulative buckets, +Inf, sum and count", "[metrics]") {
  MetricsRegistry registry;
  Histogram& h = registry.AddHistogram("took_seconds", "Time taken.", {0.5, 1, 10});
  h.Observe(0.5);  // on a bound: counted in that bucket (le means <=)
  h.Observe(0.75);
  h.Observe(7);
  h.Observe(100);
  h.Observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  CHECK(registry.Render() ==
        "# HELP took_seconds Time taken.\n"
        "# TYPE took_seconds histogram\n"
        "took_seconds_bucket{le=\"0.5\"} 1\n"
        "took_seconds_bucket{le=\"1\"} 2\n"
        "took_seconds_bucket{le=\"10\"} 3\n"
        "took_seconds_bucket{le=\"+Inf\"} 4\n"
        "took_seconds_sum 108.25\n"
        "took_seconds_count 4\n");
}

TEST_CASE("an empty histogram still renders every bucket at 0", "[metrics]") {
  MetricsRegistry registry;
  registry.AddHistogram("h", "H.", {1});
  CHECK(registry.Render() ==
        "# HELP h H.\n# TYPE h histogram\n"
        "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

TEST_CASE("sample values print in shortest round-trip form", "[metrics]") {
  CHECK(FormatMetricValue(0) == "0");
  CHECK(FormatMetricValue(42) == "42");
  CHECK(FormatMetricValue(0.1) == "0.1");
  CHECK(FormatMetricValue(1700000000.25) == "1700000000.25");
  CHECK(FormatMetricValue(123456789012.0) == "123456789012");
  CHECK(FormatMetricValue(-2.5) == "-2.5");
  CHECK(FormatMetricValue(1800000000) == "1800000000");
  CHECK(FormatMetricValue(0.0001) == "0.0001");
  CHECK(FormatMetricValue(1e-7) == "1e-07");
  CHECK(FormatMetricValue(1e21) == "1e+21");
  CHECK(FormatMetricValue(18446744073709551615.0) == "18446744073709551616");
  CHECK(FormatMetricValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatMetricValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(FormatMetricValue(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

TEST_CASE("function metrics are read at each render and left out without a value", "[metrics]") {
  MetricsRegistry registry;
  std::optional<double> value;
  registry.AddGaugeFunction("probe_up", "Probe.", [&] { return value; });
  registry.AddCounterFunction("requests_total", "Requests.", [] { return 7.0; });
  CHECK(registry.Render() ==
        "# HELP requests_total Requests.\n# TYPE requests_total counter\n"
        "requests_total 7\n");
  value = 0;
  CHECK(Sample(registry.Render(), "probe_up") == "0");
  value = 1;
  CHECK(Sample(registry.Render(), "probe_up") == "1");
}

TEST_CASE("registry refuses bad names, duplicates and misused series", "[metrics]") {
  MetricsRegistry registry;
  Counter& c = registry.AddCounter("ok_total", "Ok.", {"a"});
  Gauge& g = registry.AddGauge("ok:gauge", "Colons are allowed in metric names.");
  CHECK(KindOf([&] { registry.AddGauge("ok_total", "Again."); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { registry.AddGauge("1st", "Digit first."); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { registry.AddGauge("has-dash", "Dash."); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { registry.AddGauge("", "Empty."); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { registry.AddGauge("l1", "L.", {"__reserved"}); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { registry.AddGauge("l2", "L.", {"a:b"}); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { registry.AddGauge("l3", "L.", {"a", "a"}); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { registry.AddHistogram("h1", "H.", {1, 1}); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { registry.AddHistogram("h2", "H.", {2, 1}); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] {
          registry.AddHistogram("h3", "H.", {1, std::numeric_limits<double>::infinity()});
        }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { c.Increment({"x"}, -1); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { c.Increment({}); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { c.Increment({"x", "y"}); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { g.Set({"x"}, 1); }) == ErrorKind::kInvalidInput);
  // Nothing refused was registered or recorded.
  CHECK(registry.Render() ==
        "# HELP ok_total Ok.\n# TYPE ok_total counter\n"
        "# HELP ok:gauge Colons are allowed in metric names.\n# TYPE ok:gauge gauge\n");
}

TEST_CASE("gauge series can be removed", "[metrics]") {
  MetricsRegistry registry;
  Gauge& g = registry.AddGauge("stored", "Stored.", {"storage"});
  g.Set({"local"}, 3);
  g.Set({"s3"}, 4);
  g.RemoveIf([](const LabelValues& labels) { return labels[0] == "s3"; });
  CHECK(g.Value({"s3"}) == std::nullopt);
  CHECK(g.Value({"local"}) == 3.0);
}

TEST_CASE("counters and histograms are exact under concurrent updates and renders", "[metrics]") {
  MetricsRegistry registry;
  Counter& c = registry.AddCounter("n_total", "N.", {"t"});
  Histogram& h = registry.AddHistogram("h", "H.", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        c.Increment({t % 2 == 0 ? "even" : "odd"});
        h.Observe(i % 2 == 0 ? 0.5 : 2);
        if (i % 500 == 0) (void)registry.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(c.Value({"even"}) == 10000);
  CHECK(c.Value({"odd"}) == 10000);
  std::string text = registry.Render();
  CHECK(Sample(text, "h_bucket{le=\"1\"}") == "10000");
  CHECK(Sample(text, "h_count") == "20000");
}

// --- k3s-snapd's metric set.

SystemTime At(int64_t unix_seconds, int milliseconds = 0) {
  return SystemTime(std::chrono::seconds(unix_seconds)) + std::chrono::milliseconds(milliseconds);
}

TEST_CASE("snapshot metrics start at zero and leave out what the daemon has not supplied",
          "[metrics]") {
  SnapshotMetrics metrics(At(1700000000, 500));
  std::string text = metrics.Render();
  CHECK(Sample(text, "k3s_snapd_snapshot_last_success_timestamp_seconds") == "0");
  CHECK(Sample(text, "k3s_snapd_snapshot_last_failure_timestamp_seconds") == "0");
  CHECK(Sample(text, "k3s_snapd_snapshot_size_bytes") == "0");
  CHECK(Sample(text, "k3s_snapd_snapshot_duration_seconds_count") == "0");
  CHECK(Sample(text, "k3s_snapd_snapshot_duration_seconds_bucket{le=\"0.1\"}") == "0");
  CHECK(Sample(text, "k3s_snapd_snapshot_duration_seconds_bucket{le=\"3600\"}") == "0");
  CHECK(Sample(text, "k3s_snapd_s3_requests_total") == "0");
  CHECK(Sample(text, "k3s_snapd_s3_request_retries_total") == "0");
  CHECK(Sample(text, "process_start_time_seconds") == "1700000000.5");
  CHECK(HasFamily(text, "k3s_snapd_snapshots_total"));
  CHECK(HasFamily(text, "k3s_snapd_stored_snapshots"));
  CHECK_FALSE(HasFamily(text, "k3s_snapd_etcd_up"));
  CHECK_FALSE(HasFamily(text, "k3s_snapd_job_running"));

  bool up = false;
  bool running = true;
  metrics.SetEtcdUp([&] { return up; });
  metrics.SetJobRunning([&] { return running; });
  text = metrics.Render();
  CHECK(Sample(text, "k3s_snapd_etcd_up") == "0");
  CHECK(Sample(text, "k3s_snapd_job_running") == "1");
  up = true;
  running = false;
  text = metrics.Render();
  CHECK(Sample(text, "k3s_snapd_etcd_up") == "1");
  CHECK(Sample(text, "k3s_snapd_job_running") == "0");
}

TEST_CASE("snapshot metrics record saves and stored counts", "[metrics]") {
  SnapshotMetrics metrics(At(1));
  metrics.UseStorages({"local", "s3"});
  std::string text = metrics.Render();
  for (const char* series :
       {"{storage=\"local\",result=\"success\"}", "{storage=\"local\",result=\"failure\"}",
        "{storage=\"s3\",result=\"success\"}", "{storage=\"s3\",result=\"failure\"}"}) {
    CHECK(Sample(text, std::string("k3s_snapd_snapshots_total") + series) == "0");
  }
  metrics.StoreSaveResult("local", true);
  metrics.StoreSaveResult("s3", false);
  metrics.SaveFailed(At(1800000000));
  metrics.StoreSaveResult("local", true);
  metrics.StoreSaveResult("s3", true);
  metrics.SaveSucceeded(At(1800000100, 250), 42s, 1 << 20);
  metrics.SetStoredSnapshots("local", 2);
  metrics.SetStoredSnapshots("s3", 1);
  text = metrics.Render();
  CHECK(Sample(text, "k3s_snapd_snapshots_total{storage=\"local\",result=\"success\"}") == "2");
  CHECK(Sample(text, "k3s_snapd_snapshots_total{storage=\"s3\",result=\"failure\"}") == "1");
  CHECK(Sample(text, "k3s_snapd_snapshots_total{storage=\"s3\",result=\"success\"}") == "1");
  CHECK(Sample(text, "k3s_snapd_snapshot_last_failure_timestamp_seconds") == "1800000000");
  CHECK(Sample(text, "k3s_snapd_snapshot_last_success_timestamp_seconds") == "1800000100.25");
  CHECK(Sample(text, "k3s_snapd_snapshot_size_bytes") == "1048576");
  CHECK(Sample(text, "k3s_snapd_snapshot_duration_seconds_bucket{le=\"30\"}") == "0");
  CHECK(Sample(text, "k3s_snapd_snapshot_duration_seconds_bucket{le=\"60\"}") == "1");
  CHECK(Sample(text, "k3s_snapd_snapshot_duration_seconds_sum") == "42");
  CHECK(Sample(text, "k3s_snapd_stored_snapshots{storage=\"local\"}") == "2");
  CHECK(Sample(text, "k3s_snapd_stored_snapshots{storage=\"s3\"}") == "1");

  // A reload without S3: its count goes, its counters stay (they only ever rise).
  metrics.UseStorages({"local"});
  text = metrics.Render();
  CHECK(Sample(text, "k3s_snapd_stored_snapshots{storage=\"s3\"}") == std::nullopt);
  CHECK(Sample(text, "k3s_snapd_stored_snapshots{storage=\"local\"}") == "2");
  CHECK(Sample(text, "k3s_snapd_snapshots_total{storage=\"s3\",result=\"success\"}") == "1");
}

TEST_CASE("S3 request counters sum every source, so replacing the store never lowers them",
          "[metrics]") {
  SnapshotMetrics metrics(At(1));
  auto first = std::make_shared<S3RequestCounts>(S3RequestCounts{10, 2});
  metrics.AddS3RequestSource([first] { return *first; });
  std::string text = metrics.Render();
  CHECK(Sample(text, "k3s_snapd_s3_requests_total") == "10");
  CHECK(Sample(text, "k3s_snapd_s3_request_retries_total") == "2");
  auto second = std::make_shared<S3RequestCounts>(S3RequestCounts{1, 0});
  metrics.AddS3RequestSource([second] { return *second; });
  first->requests = 11;  // a job of the old configuration still finishing
  text = metrics.Render();
  CHECK(Sample(text, "k3s_snapd_s3_requests_total") == "12");
  CHECK(Sample(text, "k3s_snapd_s3_request_retries_total") == "2");
}

// --- What SnapshotService records.

class ManualClock final : public Clock {
 public:
  SystemTime Now() const override { return now; }
  SystemTime now = At(1800000000);
};

// Streams a valid snapshot (512 bytes and their SHA-256 trailer) unless told to fail.
class FakeEtcd final : public EtcdClient {
 public:
  void Snapshot(ByteSink& sink, const std::atomic<bool>*,
                const std::function<void(uint64_t)>& on_size) override {
    if (down) throw Error::Transient("etcd is down");
    std::string data(512, 'e');
    Sha256Digest trailer = Sha256::Of(data);
    if (on_size) on_size(data.size() + trailer.size());
    sink.Write(data);
    sink.Write(std::string_view(reinterpret_cast<const char*>(trailer.data()), trailer.size()));
  }
  EtcdStatus Status(std::chrono::milliseconds) override { return {}; }
  bool down = false;
};

// Snapshots in memory; each step can be made to fail.
class MemoryStore final : public SnapshotStore {
 public:
  explicit MemoryStore(std::string kind) : kind_(std::move(kind)) {}

  std::string_view Kind() const override { return kind_; }
  std::unique_ptr<SnapshotWriter> Create(const std::string& name) override {
    if (fail_create) throw Error::Transient(kind_ + " is unreachable");
    return std::make_unique<Writer>(*this, name);
  }
  std::vector<SnapshotRecord> List() override {
    ++lists;
    if (fail_list) throw Error::Transient(kind_ + " cannot be listed");
    return records;
  }
  std::unique_ptr<ByteSource> Open(const std::string&) override {
    throw Error::NotFound("not kept");
  }
  void Remove(const std::string& name) override {
    auto it = std::find_if(records.begin(), records.end(),
                           [&](const SnapshotRecord& r) { return r.name == name; });
    if (it == records.end()) throw Error::NotFound(name + " not in " + kind_);
    records.erase(it);
  }
  int RemoveIncomplete() override { return 0; }
  std::string ReadTokenBackup(const std::string& name) override {
    throw Error::NotFound(name + " has no token in " + kind_);
  }

  void AddRecord(const std::string& name, int64_t created_at, const std::string& status,
                 const std::string& node = "n1") {
    SnapshotRecord r;
    r.name = name;
    r.node = node;
    r.created_at = created_at;
    r.storage = kind_;
    r.status = status;
    records.push_back(r);
  }

  std::vector<SnapshotRecord> records;
  bool fail_create = false;
  bool fail_commit = false;
  bool fail_list = false;
  int lists = 0;

 private:
  class Writer final : public SnapshotWriter {
   public:
    Writer(MemoryStore& store, std::string name) : store_(store), name_(std::move(name)) {}
    void Write(std::string_view chunk) override { size_ += chunk.size(); }
    void SetTokenBackup(std::string) override {}
    SnapshotRecord Commit(const SnapshotRecord& record) override {
      if (store_.fail_commit) throw Error::Transient(store_.kind_ + " refused the upload");
      SnapshotRecord stored = record;
      stored.storage = store_.kind_;
      store_.records.push_back(stored);
      return stored;
    }
    void Abort() noexcept override {}

   private:
    MemoryStore& store_;
    std::string name_;
    uint64_t size_ = 0;
  };

  std::string kind_;
};

struct ServiceFixture {
  ServiceFixture() {
    options.node_name = "n1";
    options.scheduled_prefix = "etcd-snapshot";
    options.scheduled_retention = {{"local", {.last = 2}}};
    options.metrics = &metrics;
    service = std::make_unique<SnapshotService>(options, datastore,
                                                std::vector<SnapshotStore*>{&local, &s3}, clock);
  }
  void Save() {
    clock.now += 10s;
    jobs.Run("save", [&](JobContext& job) { service->Save("on-demand", job); });
  }
  std::optional<std::string> Value(const std::string& series) const {
    return Sample(metrics.Render(), series);
  }

  ManualClock clock;
  FakeEtcd etcd;
  EtcdDatastore datastore{etcd, "https://127.0.0.1:2379"};
  MemoryStore local{"local"};
  MemoryStore s3{"s3"};
  SnapshotMetrics metrics{At(1)};
  SnapshotServiceOptions options;
  std::unique_ptr<SnapshotService> service;
  JobRunner jobs{clock};
};

TEST_CASE("a save records success in every store, its size, duration and stored counts",
          "[metrics]") {
  ServiceFixture f;
  f.local.AddRecord("on-demand-n1-1700000000", 1700000000, "ready");
  f.local.AddRecord("on-demand-n1-1700000001", 1700000001, "failed");
  f.service->RefreshStoredCounts();
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"local\"}") == "1");
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"s3\"}") == "0");
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"s3\",result=\"failure\"}") == "0");

  f.Save();
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"local\",result=\"success\"}") == "1");
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"s3\",result=\"success\"}") == "1");
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"local\",result=\"failure\"}") == "0");
  CHECK(f.Value("k3s_snapd_snapshot_last_success_timestamp_seconds") == "1800000010");
  CHECK(f.Value("k3s_snapd_snapshot_last_failure_timestamp_seconds") == "0");
  CHECK(f.Value("k3s_snapd_snapshot_size_bytes") == "544");
  CHECK(f.Value("k3s_snapd_snapshot_duration_seconds_count") == "1");
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"local\"}") == "2");
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"s3\"}") == "1");
}

TEST_CASE("at start, the last success is this node's newest snapshot ready in every store",
          "[metrics]") {
  ServiceFixture f;
  for (MemoryStore* store : {&f.local, &f.s3}) {
    store->AddRecord("on-demand-n1-1700000000", 1700000000, "ready");
    store->AddRecord("on-demand-n1-1700000100", 1700000100, "ready");
    store->AddRecord("on-demand-n2-1700000900", 1700000900, "ready", "n2");  // another node
  }
  f.local.AddRecord("on-demand-n1-1700000500", 1700000500, "ready");  // not in s3
  f.s3.AddRecord("on-demand-n1-1700000600", 1700000600, "failed");
  f.local.AddRecord("on-demand-n1-1700000600", 1700000600, "ready");  // failed in s3

  SECTION("every store listed") {
    f.service->RefreshStoredCounts();
    CHECK(f.Value("k3s_snapd_snapshot_last_success_timestamp_seconds") == "1700000100");
    CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"local\"}") == "5");
    CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"s3\"}") == "3");
    // A later save wins; a later refresh never lowers it.
    f.Save();
    f.service->RefreshStoredCounts();
    CHECK(f.Value("k3s_snapd_snapshot_last_success_timestamp_seconds") == "1800000010");
  }
  SECTION("a store that cannot be listed: nothing is known to be everywhere") {
    f.s3.fail_list = true;
    f.service->RefreshStoredCounts();
    CHECK(f.Value("k3s_snapd_snapshot_last_success_timestamp_seconds") == "0");
    CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"local\"}") == "5");
  }
}

TEST_CASE("a save that fails in etcd counts a failure in every store", "[metrics]") {
  ServiceFixture f;
  f.etcd.down = true;
  CHECK_THROWS(f.Save());
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"local\",result=\"failure\"}") == "1");
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"s3\",result=\"failure\"}") == "1");
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"local\",result=\"success\"}") == std::nullopt);
  CHECK(f.Value("k3s_snapd_snapshot_last_failure_timestamp_seconds") == "1800000010");
  CHECK(f.Value("k3s_snapd_snapshot_last_success_timestamp_seconds") == "0");
  CHECK(f.Value("k3s_snapd_snapshot_duration_seconds_count") == "0");
  CHECK(f.Value("k3s_snapd_snapshot_size_bytes") == "0");
  CHECK(f.local.lists == 0);  // nothing stored: nothing to count again
}

TEST_CASE("a save kept in one store but not the other is a failed save", "[metrics]") {
  ServiceFixture f;
  f.s3.fail_commit = true;
  CHECK_THROWS(f.Save());
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"local\",result=\"success\"}") == "1");
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"s3\",result=\"failure\"}") == "1");
  CHECK(f.Value("k3s_snapd_snapshot_last_failure_timestamp_seconds") == "1800000010");
  CHECK(f.Value("k3s_snapd_snapshot_last_success_timestamp_seconds") == "0");
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"local\"}") == "1");

  f.s3.fail_commit = false;
  f.s3.fail_create = true;
  CHECK_THROWS(f.Save());
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"s3\",result=\"failure\"}") == "2");
  CHECK(f.Value("k3s_snapd_snapshot_last_failure_timestamp_seconds") == "1800000020");
}

TEST_CASE("delete and prune keep the stored counts current", "[metrics]") {
  ServiceFixture f;
  for (int i = 0; i < 3; ++i) f.Save();
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"s3\"}") == "3");
  std::string oldest = f.s3.records.front().name;
  f.jobs.Run("delete", [&](JobContext&) { f.service->Delete(oldest); });
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"local\"}") == "2");
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"s3\"}") == "2");

  f.service->Prune("on-demand", {.last = 1});
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"local\"}") == "1");
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"s3\"}") == "1");

  // A store that cannot be listed keeps its last count instead of dropping to 0.
  f.s3.fail_list = true;
  f.service->RefreshStoredCounts();
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"s3\"}") == "1");
}

TEST_CASE("a scheduled save is counted once, by the retention that follows it", "[metrics]") {
  ServiceFixture f;
  for (int i = 0; i < 3; ++i) {
    f.clock.now += 10s;
    int local_lists = f.local.lists;
    int s3_lists = f.s3.lists;
    f.jobs.Run("scheduled-save", [&](JobContext& job) { f.service->ScheduledSave(job); });
    CHECK(f.local.lists == local_lists + 1);  // retention's listing only
    CHECK(f.s3.lists == s3_lists + 1);        // no retention for s3: counted after the save
  }
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"local\"}") == "2");
  CHECK(f.Value("k3s_snapd_stored_snapshots{storage=\"s3\"}") == "3");
  CHECK(f.Value("k3s_snapd_snapshots_total{storage=\"local\",result=\"success\"}") == "3");
}

TEST_CASE("a service without metrics records nothing and lists nothing extra", "[metrics]") {
  ServiceFixture f;
  f.options.metrics = nullptr;
  SnapshotService service(f.options, f.datastore, {&f.local, &f.s3}, f.clock);
  f.clock.now += 10s;
  f.jobs.Run("save", [&](JobContext& job) { service.Save("on-demand", job); });
  service.RefreshStoredCounts();
  CHECK(f.local.lists == 0);
  CHECK(f.s3.records.size() == 1);
  CHECK(f.Value("k3s_snapd_snapshot_last_success_timestamp_seconds") == "0");
}

TEST_CASE("GET /metrics renders the metrics as Prometheus text, 404 without them", "[metrics]") {
  SnapshotMetrics metrics(At(1700000000));
  metrics.SetStoredSnapshots("local", 4);
  ApiBackend backend;
  backend.metrics = &metrics;
  ApiRouter router(backend);
  ApiResponse answer = router.Handle({"GET", "/metrics", "", "", {}});
  CHECK(answer.status == 200);
  CHECK(answer.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(answer.body == metrics.Render());
  CHECK(Sample(answer.body, "k3s_snapd_stored_snapshots{storage=\"local\"}") == "4");
  CHECK(router.Handle({"POST", "/metrics", "", "", {}}).status == 405);

  ApiRouter without(ApiBackend{});
  CHECK(KindOf([&] { without.Handle({"GET", "/metrics", "", "", {}}); }) == ErrorKind::kNotFound);
}

}  // namespace
}  // namespace snapd
