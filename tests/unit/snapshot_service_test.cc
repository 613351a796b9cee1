// Tests of SnapshotService's encoded saves, verify and restore staging, and of their API
// routes, on a real LocalStore in a temp dir and an etcd stand-in that streams a known snapshot.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "backup/job_runner.h"
#include "backup/snapshot_service.h"
#include "control/api_router.h"
#include "core/digest.h"
#include "core/error.h"
#include "datastore/etcd_datastore.h"
#include "pipeline/age_decrypt_source.h"
#include "pipeline/age_keys.h"
#include "schedule/time_zone.h"
#include "store/local_store.h"

namespace snapd {
namespace {

using namespace std::chrono_literals;

// A bbolt-sized body (a multiple of 512) and its SHA-256 trailer, as etcd streams a snapshot.
std::string MakeSnapshot(size_t blocks, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(blocks * 512, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    // Half repetitive, half random: compressible, but not trivially.
    data[i] = (i / 4096) % 2 == 0 ? static_cast<char>('a' + i % 7) : static_cast<char>(rng());
  }
  Sha256Digest trailer = Sha256::Of(data);
  return data + std::string(reinterpret_cast<const char*>(trailer.data()), trailer.size());
}

class StreamingEtcd final : public EtcdClient {
 public:
  void Snapshot(ByteSink& sink, const std::atomic<bool>*,
                const std::function<void(uint64_t)>& on_size) override {
    if (on_size) on_size(snapshot.size());
    for (size_t pos = 0; pos < snapshot.size(); pos += 7001) {
      sink.Write(std::string_view(snapshot).substr(pos, 7001));
    }
  }
  EtcdStatus Status(std::chrono::milliseconds) override {
    if (!answering) throw Error::Transient("connection refused");
    EtcdStatus status;
    status.version = "3.4.23";
    return status;
  }
  std::string snapshot = MakeSnapshot(600, 1);
  bool answering = false;
};

class StepClock final : public Clock {
 public:
  SystemTime Now() const override { return now; }
  SystemTime now = SystemTime(std::chrono::seconds(1800000000));
};

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/snapd-service-test.XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string path;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Fixture {
  explicit Fixture(Compression compression, bool encrypt) {
    store.Prepare();
    options.node_name = "n1";
    options.compression = compression;
    if (encrypt) options.recipients = {AgeRecipientOf(identity)};
    options.token = [] { return std::string("K10abc::server:secret-token\n"); };
    options.identities = [this] { return std::vector<AgeIdentity>{identity}; };
    service = std::make_unique<SnapshotService>(options, datastore,
                                                std::vector<SnapshotStore*>{&store}, clock);
  }
  std::string Save() {
    clock.now += 10s;
    JobState state = jobs.Run("save", [&](JobContext& job) { service->Save("on-demand", job); });
    return state.snapshot;
  }

  TempDir tmp;
  LocalStore store{tmp.path + "/db/snapshots", "n1"};
  AgeIdentity identity = GenerateAgeIdentity();
  StreamingEtcd etcd;
  EtcdDatastore datastore{etcd, "https://127.0.0.1:2379"};
  StepClock clock;
  SnapshotServiceOptions options;
  std::unique_ptr<SnapshotService> service;
  JobRunner jobs{clock};
};

}  // namespace

TEST_CASE("every encoding saves, verifies and stages back the exact snapshot", "[service]") {
  struct Case {
    Compression compression;
    bool encrypt;
    std::string suffix;
  };
  for (const Case& c :
       {Case{Compression::kNone, false, ""}, Case{Compression::kZip, false, ".zip"},
        Case{Compression::kZstd, false, ".zst"}, Case{Compression::kNone, true, ".age"},
        Case{Compression::kZstd, true, ".zst.age"}}) {
    INFO("suffix " << c.suffix);
    Fixture f(c.compression, c.encrypt);
    const std::string name = f.Save();
    CHECK(name == "on-demand-n1-1800000010" + c.suffix);
    const std::string stored = ReadFile(f.store.PathOf(name));
    if (c.compression != Compression::kNone) CHECK(stored.size() < f.etcd.snapshot.size());
    if (c.compression == Compression::kNone && !c.encrypt) CHECK(stored == f.etcd.snapshot);

    // The record describes the bytes as stored.
    SnapshotListing listing = f.service->List();
    REQUIRE(listing.records.size() == 1);
    const SnapshotRecord& record = listing.records[0];
    CHECK(record.sha256 == Sha256::HexOf(stored));
    CHECK(record.size == stored.size());
    CHECK(record.compressed == (c.compression != Compression::kNone));
    CHECK(record.encrypted == c.encrypt);
    // The token is saved, encrypted, only beside encrypted snapshots.
    CHECK(record.token_backup == c.encrypt);
    if (c.encrypt) {
      CHECK(AgeDecrypt(f.store.ReadTokenBackup(name), {f.identity}) ==
            "K10abc::server:secret-token\n");
    }

    std::vector<VerifyReport> reports;
    f.jobs.Run("verify", [&](JobContext& job) { reports = f.service->Verify(name, job); });
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].ok);
    CHECK(reports[0].error.empty());
    CHECK(reports[0].snapshot_size == f.etcd.snapshot.size());

    StagedSnapshot staged;
    f.jobs.Run("restore", [&](JobContext& job) {
      staged = f.service->Stage(name, "", f.tmp.path + "/staging", c.encrypt, job);
    });
    CHECK(staged.path == f.tmp.path + "/staging/on-demand-n1-1800000010");
    CHECK(ReadFile(staged.path) == f.etcd.snapshot);
    struct stat st;
    REQUIRE(::stat(staged.path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    if (c.encrypt) CHECK(ReadFile(staged.token_path) == "K10abc::server:secret-token\n");
  }
}

TEST_CASE("a damaged snapshot fails verify and stages nothing", "[service]") {
  for (bool encrypt : {false, true}) {
    INFO("encrypted " << encrypt);
    Fixture f(Compression::kZstd, encrypt);
    const std::string name = f.Save();
    const std::string path = f.store.PathOf(name);
    std::string bytes = ReadFile(path);
    bytes[bytes.size() / 2] ^= 0x20;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;

    std::vector<VerifyReport> reports;
    f.jobs.Run("verify", [&](JobContext& job) { reports = f.service->Verify("", job); });
    REQUIRE(reports.size() == 1);
    CHECK_FALSE(reports[0].ok);
    CHECK_THAT(reports[0].error, Catch::Contains("local " + name));

    const std::string dir = f.tmp.path + "/staging";
    RequireError(
        [&] {
          f.jobs.Run("restore",
                     [&](JobContext& job) { f.service->Stage(name, "local", dir, false, job); });
        },
        ErrorKind::kCorrupt, name);
    CHECK(::access((dir + "/on-demand-n1-1800000010").c_str(), F_OK) != 0);
    CHECK(::access((dir + "/on-demand-n1-1800000010.part").c_str(), F_OK) != 0);
  }
}

TEST_CASE("a bad trailer from etcd saves nothing in any encoding", "[service]") {
  Fixture f(Compression::kZip, true);
  f.etcd.snapshot.back() ^= 1;
  RequireError([&] { f.Save(); }, ErrorKind::kCorrupt, "on-demand-n1-1800000010.zip.age");
  CHECK(f.store.List().empty());
  CHECK(f.store.RemoveIncomplete() == 0);  // not even a leftover: the writer cleaned up
}

TEST_CASE("an encrypted snapshot needs the identity and the right one", "[service]") {
  Fixture f(Compression::kNone, true);
  const std::string name = f.Save();
  f.options.identities = nullptr;
  SnapshotService without(f.options, f.datastore, {&f.store}, f.clock);
  std::vector<VerifyReport> reports;
  f.jobs.Run("verify", [&](JobContext& job) { reports = without.Verify(name, job); });
  REQUIRE(reports.size() == 1);
  CHECK_THAT(reports[0].error, Catch::Contains("etcd-snapshot-encryption-identity-file"));

  f.options.identities = [] { return std::vector<AgeIdentity>{GenerateAgeIdentity()}; };
  SnapshotService wrong(f.options, f.datastore, {&f.store}, f.clock);
  f.jobs.Run("verify", [&](JobContext& job) { reports = wrong.Verify(name, job); });
  REQUIRE(reports.size() == 1);
  CHECK_FALSE(reports[0].ok);
}

TEST_CASE("verify and restore routes check their input and a live etcd", "[service]") {
  Fixture f(Compression::kNone, false);
  const std::string name = f.Save();
  ApiBackend backend;
  backend.service = f.service.get();
  backend.jobs = &f.jobs;
  backend.etcd = &f.etcd;
  backend.etcd_endpoint = "http://127.0.0.1:2379";
  backend.restore_staging_dir = f.tmp.path + "/staging";
  ApiRouter router(backend);
  auto post = [&](const std::string& target, const std::string& body) {
    ApiRequest request;
    request.method = "POST";
    request.target = target;
    request.body = body;
    return router.Handle(request);
  };
  RequireError([&] { post("/v1/verify", "{}"); }, ErrorKind::kInvalidInput, "\"all\"");
  RequireError([&] { post("/v1/verify", R"({"name": "../x"})"); }, ErrorKind::kInvalidInput,
               "snapshot name");
  RequireError([&] { post("/v1/restore", "{}"); }, ErrorKind::kInvalidInput, "\"name\"");
  RequireError([&] { post("/v1/restore", R"({"name": "x", "storage": "tape"})"); },
               ErrorKind::kInvalidInput, "local or s3");
  RequireError([&] { post("/v1/restore", R"({"name": "x", "force": "yes"})"); },
               ErrorKind::kInvalidInput, "true or false");

  f.etcd.answering = true;
  RequireError(
      [&] {
        post("/v1/restore", nlohmann::json{{"name", name}}.dump());
      },
      ErrorKind::kConflict, "etcd still answers at http://127.0.0.1:2379");
  ApiResponse forced = post("/v1/restore", nlohmann::json{{"name", name}, {"force", true}}.dump());
  CHECK(forced.status == 202);
  uint64_t id = nlohmann::json::parse(forced.body)["job"]["id"].get<uint64_t>();
  std::optional<JobState> done = f.jobs.Wait(id, 10s);
  REQUIRE(done);
  CHECK(done->state == "succeeded");
  CHECK(done->result["staged"] == f.tmp.path + "/staging/" + name);
  CHECK(ReadFile(done->result["staged"].get<std::string>()) == f.etcd.snapshot);
}

TEST_CASE("answers stay JSON when names, paths and targets are not UTF-8", "[service]") {
  // Found by fuzzing: a strict JSON dump threw on such bytes, and the request got a 500.
  Fixture f(Compression::kNone, false);
  const std::string odd_name = "etcd-snapshot-caf\xe9-1795000000";  // Latin-1, as k3s may leave
  std::ofstream(f.tmp.path + "/db/snapshots/" + odd_name) << "not a snapshot";
  ApiBackend backend;
  backend.service = f.service.get();
  backend.jobs = &f.jobs;
  backend.etcd = &f.etcd;
  backend.config_summary = {{"etcd-snapshot-dir", "/srv/k3s-\xff/snapshots"}};
  ApiRouter router(backend);
  auto get = [&](const std::string& target) {
    ApiRequest request;
    request.method = "GET";
    request.target = target;
    return router.Handle(request);
  };

  ApiResponse list = get("/v1/snapshots");
  CHECK(list.status == 200);
  const nlohmann::json listed = nlohmann::json::parse(list.body);
  REQUIRE(listed["snapshots"].size() == 1);
  CHECK(listed["snapshots"][0]["name"] == "etcd-snapshot-caf\uFFFD-1795000000");

  ApiResponse status = get("/v1/status");
  CHECK(status.status == 200);
  CHECK(nlohmann::json::parse(status.body)["config"]["etcd-snapshot-dir"] ==
        "/srv/k3s-\uFFFD/snapshots");

  ApiResponse missing = get("/v1/\xaa");
  CHECK(missing.status == 404);
  CHECK(nlohmann::json::parse(missing.body)["error"] == "no such endpoint: GET /v1/\uFFFD");
}

namespace {

// A store whose disk is full: every write fails as write(2) with ENOSPC would.
class FullDiskStore final : public SnapshotStore {
 public:
  class Writer final : public SnapshotWriter {
   public:
    void Write(std::string_view) override {
      throw Error::Permanent("write /db/snapshots/x.part: No space left on device");
    }
    void SetTokenBackup(std::string) override {}
    SnapshotRecord Commit(const SnapshotRecord&) override {
      throw Error::InvalidInput("nothing to commit");
    }
    void Abort() noexcept override {}
  };
  std::string_view Kind() const override { return "local"; }
  std::unique_ptr<SnapshotWriter> Create(const std::string&) override {
    return std::make_unique<Writer>();
  }
  std::vector<SnapshotRecord> List() override { return {}; }
  std::unique_ptr<ByteSource> Open(const std::string& name) override {
    throw Error::NotFound(name);
  }
  void Remove(const std::string& name) override { throw Error::NotFound(name); }
  std::string ReadTokenBackup(const std::string& name) override { throw Error::NotFound(name); }
  int RemoveIncomplete() override { return 0; }
};

}  // namespace

TEST_CASE("a save every store failed names the stores' errors, not etcd", "[service]") {
  // The failure leaves etcd's stream through its sink, but the full disk is what the operator
  // must read in status and the log.
  FullDiskStore store;
  StreamingEtcd etcd;
  EtcdDatastore datastore{etcd, "https://127.0.0.1:2379"};
  StepClock clock;
  SnapshotServiceOptions options;
  options.node_name = "n1";
  SnapshotService service(options, datastore, {&store}, clock);
  JobRunner jobs{clock};
  std::string message;
  try {
    jobs.Run("save", [&](JobContext& job) { service.Save("on-demand", job); });
    FAIL("the save succeeded");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kPermanent);
    message = e.what();
  }
  CHECK(message ==
        "snapshot on-demand-n1-1800000000: local: write /db/snapshots/x.part: No space left on "
        "device");
  CHECK_THAT(message, !Catch::Contains("etcd"));
}

namespace {

int64_t Utc(int year, int month, int day, int hour) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  return static_cast<int64_t>(::timegm(&tm));
}

// Leaves a snapshot as k3s makes it: a file and no record, timed by its name.
std::string PutK3sSnapshot(const Fixture& f, int64_t t) {
  const std::string name = FormatSnapshotName("etcd-snapshot", "n1", t);
  std::ofstream(f.tmp.path + "/db/snapshots/" + name) << "k3s snapshot";
  return name;
}

std::set<std::string> StoredNames(LocalStore& store) {
  std::set<std::string> names;
  for (const SnapshotRecord& r : store.List()) names.insert(r.name);
  return names;
}

}  // namespace

TEST_CASE("the prune route applies calendar rules, dry runs delete nothing", "[service]") {
  Fixture f(Compression::kNone, false);
  std::vector<std::string> names;  // oldest first: two a day, 2026-12-01 to 2026-12-05
  for (int day = 1; day <= 5; ++day) {
    for (int hour : {10, 20}) names.push_back(PutK3sSnapshot(f, Utc(2026, 12, day, hour)));
  }
  ApiBackend backend;
  backend.service = f.service.get();
  backend.jobs = &f.jobs;
  backend.default_retention = {.last = 1, .daily = 2};
  ApiRouter router(backend);
  auto prune = [&](const nlohmann::json& body) {
    ApiRequest request;
    request.method = "POST";
    request.target = "/v1/prune";
    request.body = body.dump();
    ApiResponse response = router.Handle(request);
    REQUIRE(response.status == 200);
    return nlohmann::json::parse(response.body);
  };
  const std::set<std::string> all(names.begin(), names.end());

  nlohmann::json dry = prune({{"name", "etcd-snapshot"}, {"keepDaily", 3}, {"dryRun", true}});
  CHECK(dry["dryRun"] == true);
  CHECK(dry["keepDaily"] == 3);
  CHECK(dry["retention"] == 0);  // a request naming a rule gets only the rules it names
  REQUIRE(dry["stores"].size() == 1);
  CHECK(dry["stores"][0]["removed"].empty());
  const nlohmann::json& decisions = dry["stores"][0]["decisions"];
  REQUIRE(decisions.size() == 10);
  std::vector<std::string> would_keep;
  for (const nlohmann::json& d : decisions) {
    if (d["keep"] == true) would_keep.push_back(d["name"]);
  }
  CHECK(would_keep == std::vector<std::string>{names[9], names[7], names[5]});
  CHECK(decisions[0]["reason"] == "keep-daily 3 (2026-12-05)");
  CHECK(decisions[1]["reason"] == "keep-daily 3: a newer one of 2026-12-05 is kept");
  CHECK(decisions[6]["reason"] == "keep-daily 3: 3 days kept already");
  CHECK(StoredNames(f.store) == all);

  // The count alone, as k3s's prune: the daemon's calendar rules do not join in.
  nlohmann::json count = prune({{"name", "etcd-snapshot"}, {"retention", 1}, {"dryRun", true}});
  CHECK(count["keepDaily"] == 0);
  int removed = 0;
  for (const nlohmann::json& d : count["stores"][0]["decisions"]) removed += d["keep"] == false;
  CHECK(removed == 9);

  // Bad values are refused, naming the field, before anything is deleted.
  RequireError(
      [&] {
        prune({{"keepDaily", -1}});
      },
      ErrorKind::kInvalidInput, "\"keepDaily\" must not be negative, got -1");
  RequireError(
      [&] {
        prune({{"keepHourly", "3"}});
      },
      ErrorKind::kInvalidInput, "\"keepHourly\" must be an integer");
  RequireError(
      [&] {
        prune({{"keepWeekly", 1.5}});
      },
      ErrorKind::kInvalidInput, "\"keepWeekly\" must be an integer");
  RequireError(
      [&] {
        prune({{"keepMonthly", 99999999999}});
      },
      ErrorKind::kInvalidInput, "\"keepMonthly\" is out of range: 99999999999");
  RequireError(
      [&] {
        prune({{"retention", -99999999999}});
      },
      ErrorKind::kInvalidInput, "\"retention\" is out of range");
  RequireError(
      [&] {
        prune({{"dryRun", "yes"}});
      },
      ErrorKind::kInvalidInput, "\"dryRun\" must be true or false");
  RequireError(
      [&] {
        prune({{"keepYearly", 1}});
      },
      ErrorKind::kInvalidInput, "unknown field \"keepYearly\"");
  CHECK(StoredNames(f.store) == all);

  nlohmann::json done = prune({{"name", "etcd-snapshot"}, {"keepDaily", 3}});
  CHECK(done["dryRun"] == false);
  CHECK(done["stores"][0]["removed"].size() == 7);
  CHECK(StoredNames(f.store) == std::set<std::string>{names[9], names[7], names[5]});

  // No rule named: the daemon's (the newest 1, keep-daily 2).
  nlohmann::json defaults = prune({{"name", "etcd-snapshot"}});
  CHECK(defaults["retention"] == 1);
  CHECK(defaults["keepDaily"] == 2);
  CHECK(defaults["stores"][0]["removed"] == nlohmann::json::array({names[5]}));
}

TEST_CASE("scheduled retention reads days on the schedule zone's wall clock", "[service]") {
  Fixture f(Compression::kNone, false);
  // The save is at 2027-01-15 08:00:10 UTC, 03:00 in New York. The snapshot of 02:00 UTC is
  // still the 14th there, so keep-daily keeps it as the 14th's newest; in UTC it would share
  // the 15th with the save and the 14th's would be the one of 12:00.
  f.clock.now = SystemTime(std::chrono::seconds(Utc(2027, 1, 15, 8)));
  const std::string late_14th = PutK3sSnapshot(f, Utc(2027, 1, 15, 2));
  PutK3sSnapshot(f, Utc(2027, 1, 14, 12));
  PutK3sSnapshot(f, Utc(2027, 1, 13, 12));
  f.options.scheduled_prefix = "etcd-snapshot";
  f.options.scheduled_retention = {{"local", {.last = 1, .daily = 2}}};
  const date::time_zone* new_york = &LocateTimeZone("America/New_York");
  f.options.retention_clock = [new_york](int64_t t) { return CivilTimeIn(*new_york, t); };
  SnapshotService service(f.options, f.datastore, {&f.store}, f.clock);
  f.clock.now += 10s;
  JobState state =
      f.jobs.Run("scheduled-save", [&](JobContext& job) { service.ScheduledSave(job); });
  CHECK(state.state == "succeeded");
  CHECK(StoredNames(f.store) == std::set<std::string>{state.snapshot, late_14th});
}

}  // namespace snapd
