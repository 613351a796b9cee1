// Fuzzes the control API's routing and request bodies (ApiRouter::Handle, as the control server
// calls it for every request): the input is "<METHOD> <target>\n<body>". The backend is real
// (SnapshotService with its zstd and age stages) over in-memory stores holding a few snapshots
// and an etcd stand-in. Requests only ever fail with snapd::Error, and every answer is JSON.
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/job_runner.h"
#include "backup/snapshot_service.h"
#include "control/api_router.h"
#include "core/digest.h"
#include "core/error.h"
#include "datastore/etcd_datastore.h"
#include "fuzz_input.h"
#include "metrics/snapshot_metrics.h"
#include "pipeline/age_keys.h"
#include "store/snapshot_store.h"

using snapd::fuzz::Check;

namespace snapd {
namespace {

using namespace std::chrono_literals;

class StepClock final : public Clock {
 public:
  SystemTime Now() const override { return now; }
  SystemTime now = SystemTime(1795395723s);
};

// Streams a small valid snapshot (1 KiB and its SHA-256 trailer); etcd itself is not running.
class StandInEtcd final : public EtcdClient {
 public:
  void Snapshot(ByteSink& sink, const std::atomic<bool>*,
                const std::function<void(uint64_t)>& on_size) override {
    const std::string data(1024, 'e');
    const Sha256Digest trailer = Sha256::Of(data);
    if (on_size) on_size(data.size() + trailer.size());
    sink.Write(data);
    sink.Write(std::string_view(reinterpret_cast<const char*>(trailer.data()), trailer.size()));
  }
  EtcdStatus Status(std::chrono::milliseconds) override {
    throw Error::Transient("etcd stand-in: connection refused");
  }
};

// A store in memory, with the rules of snapshot_store.h that the API relies on.
class MemoryStore final : public SnapshotStore {
 public:
  struct Entry {
    SnapshotRecord record;
    std::string bytes;
    std::string token;
  };

  explicit MemoryStore(std::string kind) : kind_(std::move(kind)) {}

  std::string_view Kind() const override { return kind_; }
  std::unique_ptr<SnapshotWriter> Create(const std::string& name) override {
    if (entries.count(name) != 0) throw Error::Conflict(name + " exists in " + kind_);
    return std::make_unique<Writer>(*this, name);
  }
  std::vector<SnapshotRecord> List() override {
    std::vector<SnapshotRecord> records;
    for (const auto& [name, entry] : entries) records.push_back(entry.record);
    return records;
  }
  std::unique_ptr<ByteSource> Open(const std::string& name) override {
    auto it = entries.find(name);
    if (it == entries.end()) throw Error::NotFound(name + " not in " + kind_);
    return std::make_unique<OwningSource>(it->second.bytes);
  }
  void Remove(const std::string& name) override {
    if (entries.erase(name) == 0) throw Error::NotFound(name + " not in " + kind_);
  }
  std::string ReadTokenBackup(const std::string& name) override {
    auto it = entries.find(name);
    if (it == entries.end() || it->second.token.empty()) {
      throw Error::NotFound(name + " has no token backup in " + kind_);
    }
    return it->second.token;
  }
  int RemoveIncomplete() override { return 0; }

  std::map<std::string, Entry> entries;

 private:
  class OwningSource final : public ByteSource {
   public:
    explicit OwningSource(std::string bytes) : bytes_(std::move(bytes)) {}
    size_t Read(char* buffer, size_t size) override {
      const size_t n = std::min(size, bytes_.size() - position_);
      std::copy_n(bytes_.data() + position_, n, buffer);
      position_ += n;
      return n;
    }

   private:
    std::string bytes_;
    size_t position_ = 0;
  };

  class Writer final : public SnapshotWriter {
   public:
    Writer(MemoryStore& store, std::string name) : store_(store), name_(std::move(name)) {}
    void Write(std::string_view chunk) override { bytes_.append(chunk); }
    void SetTokenBackup(std::string sealed) override { token_ = std::move(sealed); }
    SnapshotRecord Commit(const SnapshotRecord& record) override {
      Entry entry{record, std::move(bytes_), std::move(token_)};
      entry.record.storage = store_.kind_;
      entry.record.location = store_.kind_ + "://" + name_;
      entry.record.size = entry.bytes.size();
      store_.entries[name_] = entry;
      return entry.record;
    }
    void Abort() noexcept override {}

   private:
    MemoryStore& store_;
    std::string name_;
    std::string bytes_;
    std::string token_;
  };

  std::string kind_;
};

// Everything one request runs against, made afresh for each input from the same snapshots.
struct Backend {
  Backend(const MemoryStore& local_snapshots, const MemoryStore& s3_snapshots,
          const std::string& staging_dir) {
    local.entries = local_snapshots.entries;
    s3.entries = s3_snapshots.entries;
    options.node_name = "n1";
    options.compression = Compression::kZstd;
    options.recipients = {AgeRecipientOf(Identity())};
    options.token = [] { return std::string("K10fuzz::server:token\n"); };
    options.identities = [] { return std::vector<AgeIdentity>{Identity()}; };
    options.metrics = &metrics;
    options.scheduled_retention = {{"local", {.last = 2}}, {"s3", {.last = 3}}};
    service = std::make_unique<SnapshotService>(options, datastore,
                                                std::vector<SnapshotStore*>{&local, &s3}, clock);
    ApiBackend api;
    api.service = service.get();
    api.jobs = &jobs;
    api.etcd = &etcd;
    api.etcd_endpoint = "https://127.0.0.1:2379";
    api.node_name = "n1";
    api.scheduled_prefix = "etcd-snapshot";
    api.schedule = "0 */12 * * *";
    api.next_run = [] { return std::optional<SystemTime>(SystemTime(1795399200s)); };
    api.storage_status = [] { return nlohmann::json::array(); };
    api.config_summary = {{"etcd-snapshot-retention", 5}};
    api.metrics = &metrics;
    api.restore_staging_dir = staging_dir;
    api.data_dir = "/var/lib/rancher/k3s";
    api.token_file = "/var/lib/rancher/k3s/server/token";
    api.token_hash = [] { return std::string("0123456789ab"); };
    router = std::make_unique<ApiRouter>(api);
  }

  static const AgeIdentity& Identity() {
    static const AgeIdentity identity = GenerateAgeIdentity();
    return identity;
  }

  StepClock clock;
  StandInEtcd etcd;
  EtcdDatastore datastore{etcd, "https://127.0.0.1:2379"};
  MemoryStore local{"local"};
  MemoryStore s3{"s3"};
  SnapshotMetrics metrics{SystemTime(1795390000s)};
  SnapshotServiceOptions options;
  std::unique_ptr<SnapshotService> service;
  JobRunner jobs{clock};
  std::unique_ptr<ApiRouter> router;
};

struct Fixture {
  Fixture() {
    char pattern[] = "/tmp/snapd-api-fuzz.XXXXXX";
    Check(::mkdtemp(pattern) != nullptr, "a staging directory can be made");
    staging_dir = pattern;
    // A few real snapshots, saved through the service so they verify and restore.
    Backend seed(local, s3, staging_dir);
    for (const char* prefix : {"etcd-snapshot", "on-demand", "etcd-snapshot"}) {
      seed.jobs.Run("save", [&](JobContext& job) { seed.service->Save(prefix, job); });
      seed.clock.now += 10s;
    }
    local.entries = seed.local.entries;
    s3.entries = seed.s3.entries;
    // What k3s or anyone may leave in a snapshot directory: a file with no metadata.
    MemoryStore::Entry k3s_made;
    k3s_made.record.name = "etcd-snapshot-k3s-node-1795000000";
    k3s_made.record.node = "k3s-node";
    k3s_made.record.storage = "local";
    k3s_made.record.created_at = 1795000000;
    k3s_made.bytes = "not a snapshot";
    local.entries[k3s_made.record.name] = k3s_made;
  }
  ~Fixture() { std::filesystem::remove_all(staging_dir); }

  MemoryStore local{"local"};
  MemoryStore s3{"s3"};
  std::string staging_dir;
};

}  // namespace
}  // namespace snapd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace snapd;
  static Fixture fixture;
  const std::string_view input = fuzz::AsText(data, size);
  ApiRequest request;
  const size_t newline = std::min(input.find('\n'), input.size());
  const std::string_view line = input.substr(0, newline);
  const size_t space = std::min(line.find(' '), line.size());
  request.method = std::string(line.substr(0, space));
  request.target = std::string(line.substr(std::min(space + 1, line.size())));
  request.body = std::string(input.substr(std::min(newline + 1, input.size())));
  request.content_type = "application/json";

  Backend backend(fixture.local, fixture.s3, fixture.staging_dir);
  ApiResponse response;
  try {
    response = backend.router->Handle(request);
  } catch (const Error&) {
    // The server answers these by kind; anything else escaping is a 500 and a finding.
    return 0;
  }
  Check(response.status == 200 || response.status == 202 || response.status == 404 ||
            response.status == 405,
        "answers are 200, 202, 404 or 405 (errors are thrown)");
  if (response.content_type == "application/json") {
    const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    Check(body.is_object(), "every JSON answer is an object");
    if (response.status == 202) {
      // Started jobs finish before the next input (and their staged files are removed).
      Check(body.contains("job") && body["job"].contains("id"), "a 202 names its job");
      const uint64_t id = body["job"]["id"].get<uint64_t>();
      const std::optional<JobState> job = backend.jobs.Wait(id, std::chrono::seconds(60));
      Check(job && job->state != "running", "a started job finishes");
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(fixture.staging_dir)) {
    std::filesystem::remove_all(entry.path());
  }
  return 0;
}
