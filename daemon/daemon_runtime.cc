// Building and running one configuration of k3s-snapd.
#include "daemon_runtime.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config_loader.h"
#include "config/config_validation.h"
#include "core/error.h"
#include "pipeline/age_keys.h"
#include "retention/retention_policy.h"
#include "schedule/time_zone.h"
#include "snapshot/token_hash.h"

namespace snapd {
namespace {

// "FILE: key: message" or "--key: message", whichever set the key.
Error ConfigError(const Config& config, const std::string& key, const std::string& message) {
  std::string source = config.SourceOf(key);
  if (source.starts_with("--")) return Error::InvalidInput(source + ": " + message);
  return Error::InvalidInput(source + ": " + key + ": " + message);
}

// The server token as k3s keeps it (the whole file), for the encrypted backup beside each
// snapshot; "" when there is none.
std::string ReadToken(const Config& config) {
  if (!config.token.empty()) return config.token + "\n";
  std::ifstream in(config.token_file);
  if (!in) return "";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// TokenHash ignores the surrounding white space ReadToken keeps.
std::string ReadTokenHash(const Config& config) {
  return TokenHash(ReadToken(config));
}

// Read at each verify or restore, not at start: the key may live off the node and be brought
// only for a restore. It must be private, as every secret file.
std::vector<AgeIdentity> ReadIdentities(const Config& config) {
  const std::string& path = config.encryption_identity_file;
  const std::string where = WhereSet(config, "etcd-snapshot-encryption-identity-file");
  if (path.empty()) {
    throw Error::InvalidInput(
        "snapshot is encrypted; set etcd-snapshot-encryption-identity-file to read it");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw Error::InvalidInput(where + ": cannot read " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    throw Error::InvalidInput(where + ": " + path + " is open to group or others; run chmod 600 " +
                              path);
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw Error::InvalidInput(where + ": cannot read " + path);
  try {
    return ParseAgeIdentityFile(text.str());
  } catch (const Error& e) {
    throw e.WithContext(where + ": " + path);
  }
}

// A store's scheduled retention: its count beside the calendar rules every store shares.
RetentionPolicy ScheduledRetention(const Config& config, int count) {
  return RetentionPolicy{.last = count,
                         .hourly = config.snapshot_keep_hourly,
                         .daily = config.snapshot_keep_daily,
                         .weekly = config.snapshot_keep_weekly,
                         .monthly = config.snapshot_keep_monthly};
}

// How often the leftovers of interrupted saves are looked for: local ones are cheap to find;
// S3's cost LIST requests.
constexpr std::chrono::seconds kLocalUpkeepInterval{60};
constexpr std::chrono::seconds kS3UpkeepInterval{600};
// How long one S3 health check may retry.
constexpr std::chrono::milliseconds kS3CheckTimeLimit{5000};

std::string ParentDir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const size_t slash = dir.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

// etcd client TLS: files named explicitly must exist; k3s's default files are used when present.
TlsOptions EtcdTls(const Config& config) {
  TlsOptions tls;
  auto pick = [&](const std::string& key, const std::string& path, std::string& out) {
    struct stat st;
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (config.SourceOf(key) != "default") {
      if (!exists) throw ConfigError(config, key, path + " does not exist");
      out = path;
    } else if (exists) {
      out = path;
    }
  };
  pick("etcd-cacert", config.etcd_cacert, tls.ca_file);
  pick("etcd-cert", config.etcd_cert, tls.cert_file);
  pick("etcd-key", config.etcd_key, tls.key_file);
  return tls;
}

}  // namespace

std::shared_ptr<DaemonRuntime> DaemonRuntime::Build(const Config& config, JobRunner& jobs,
                                                    const Clock& clock, SnapshotMetrics& metrics) {
  std::shared_ptr<DaemonRuntime> runtime(new DaemonRuntime(config, jobs, metrics));
  DaemonRuntime& r = *runtime;
  const Config& c = r.config_;

  if (!c.disable_snapshots) {
    try {
      r.schedule_ = CronSchedule::Parse(c.snapshot_schedule_cron);
    } catch (const Error& e) {
      throw ConfigError(c, "etcd-snapshot-schedule-cron", e.what());
    }
  }
  DatastoreTarget target;
  try {
    target = ResolveDatastore(c.datastore_endpoint, c.data_dir, c.etcd_endpoint,
                              [](const std::string& path) {
                                struct stat st;
                                return ::stat(path.c_str(), &st) == 0;
                              });
  } catch (const Error& e) {
    throw ConfigError(c, "datastore-endpoint", e.what());
  }
  EtcdEndpoint endpoint;
  endpoint.url = target.kind == DatastoreKind::kEtcd ? target.etcd_url : c.etcd_endpoint;
  endpoint.stall_timeout = c.etcd_stall_timeout;
  if (endpoint.url.starts_with("https://")) endpoint.tls = EtcdTls(c);
  // Every transport's client also makes the coordination calls (which server uploads a run).
  EtcdCoordinationClient* coordination = nullptr;
  EtcdWatcher* watcher = nullptr;
  EtcdReplayClient* replay = nullptr;
  auto use = [&](auto client) {
    coordination = client.get();
    if constexpr (std::is_base_of_v<EtcdWatcher, typename decltype(client)::element_type>) {
      watcher = client.get();
      replay = client.get();
    }
    r.etcd_kv_ = client.get();
    r.etcd_ = std::move(client);
  };
  if (c.etcd_transport == "gateway") {
    use(std::make_unique<GatewayEtcdClient>(endpoint));
  } else if (c.etcd_transport == "grpc") {
    use(std::make_unique<GrpcEtcdClient>(endpoint));
  } else {
    use(std::make_unique<AutoEtcdClient>(endpoint));
  }
  if (target.kind == DatastoreKind::kSqlite) {
    r.datastore_ = std::make_unique<SqliteDatastore>(target.sqlite_path, c.state_dir);
  } else {
    r.datastore_ = std::make_unique<EtcdDatastore>(*r.etcd_, endpoint.url);
  }
  if (target.kind == DatastoreKind::kEtcd) {
    EtcdClient* etcd = r.etcd_.get();
    r.etcd_health_ = std::make_unique<StoreHealth>(
        "etcd", [etcd] { etcd->Status(std::chrono::seconds(2)); }, std::chrono::seconds(15),
        std::chrono::seconds(5));
  }

  r.part_journal_ = std::make_unique<JournalDir>(c.state_dir + "/local-saves");
  r.local_ = std::make_unique<LocalStore>(c.snapshot_dir, c.node_name, r.part_journal_.get());
  std::vector<SnapshotStore*> stores = {r.local_.get()};
  if (c.s3.enabled) {
    r.upload_journal_ = std::make_unique<UploadJournal>(c.state_dir + "/uploads");
    S3StoreOptions s3;
    s3.client = S3ClientOptionsFromConfig(c.s3);
    s3.client.cancel = &r.s3_cancel_;
    s3.folder = c.s3.folder;
    s3.upload_concurrency = c.s3.upload_concurrency;
    s3.node_name = c.node_name;
    s3.token_hash = [&c] { return ReadTokenHash(c); };
    s3.incomplete_grace = c.s3.incomplete_upload_grace;
    s3.journal = r.upload_journal_.get();
    s3.spill_dir = c.state_dir;
    s3.cache_dir = c.state_dir;
    r.s3_ = std::make_unique<S3Store>(s3);
    stores.push_back(r.s3_.get());
    S3Store* store = r.s3_.get();
    // A short limit, so that status tells an unreachable S3 soon rather than after
    // etcd-s3-timeout of retries.
    r.s3_health_ = std::make_unique<StoreHealth>(
        "S3", [store] { store->Check(kS3CheckTimeLimit); }, std::chrono::minutes(10),
        std::chrono::seconds(10));
  }

  SnapshotServiceOptions options;
  options.node_name = c.node_name;
  // Several servers of one etcd cluster, one S3 destination: one of them uploads each run.
  if (target.kind == DatastoreKind::kEtcd && c.s3.enabled && c.s3.upload_by == "one-server" &&
      r.schedule_) {
    UploadCoordinatorOptions coordinated;
    coordinated.node_name = c.node_name;
    coordinated.destination_id =
        S3DestinationId(c.s3.endpoint, c.s3.bucket, CleanS3Folder(c.s3.folder));
    r.upload_coordinator_ =
        std::make_unique<UploadCoordinator>(*r.etcd_, *coordination, coordinated);
    options.upload_coordinator = r.upload_coordinator_.get();
  }
  const bool sqlite = target.kind == DatastoreKind::kSqlite;
  // SQLite snapshots never take etcd's default names; a prefix the user set is theirs.
  const std::string scheduled_prefix = sqlite && c.SourceOf("etcd-snapshot-name") == "default"
                                           ? std::string(kSqliteScheduledPrefix)
                                           : c.snapshot_name;
  options.scheduled_prefix = scheduled_prefix;
  r.scheduled_prefix_ = scheduled_prefix;
  options.scratch_dir = c.state_dir;
  options.content_proof = sqlite || !c.snapshot_verify_contents ? nullptr : coordination;
  options.scheduled_retention["local"] = ScheduledRetention(c, c.snapshot_retention);
  options.scheduled_retention["s3"] = ScheduledRetention(c, c.s3.retention);
  // Calendar buckets are in the zone the schedule names with CRON_TZ=, else in UTC.
  if (const date::time_zone* zone = r.schedule_ ? r.schedule_->prefix_time_zone() : nullptr) {
    options.retention_clock = [zone](int64_t t) { return CivilTimeIn(*zone, t); };
  }
  options.token_hash = [&c] { return ReadTokenHash(c); };
  options.metrics = &metrics;
  options.compression = ParseCompression(c.SnapshotCompression());
  for (const std::string& text : c.EncryptionRecipients()) {
    try {
      options.recipients.push_back(ParseAgeRecipient(text));
    } catch (const Error& e) {
      throw ConfigError(c, "etcd-snapshot-encryption-recipients", e.what());
    }
  }
  options.token = [&c] { return ReadToken(c); };
  options.identities = [&c] { return ReadIdentities(c); };
  if (c.snapshot_incremental_interval.count() > 0) {
    const char* key = "etcd-snapshot-incremental-interval";
    if (sqlite)
      throw ConfigError(c, key, "increments are recorded from etcd; this datastore is SQLite");
    if (watcher == nullptr) {
      throw ConfigError(c, key,
                        "increments need etcd's gRPC API: set etcd-transport to auto or grpc");
    }
    if (!c.snapshot_verify_contents) {
      throw ConfigError(c, key,
                        "a base's revision comes from the content proof: "
                        "etcd-snapshot-verify-contents must stay true");
    }
    IncrementRecorderOptions recording;
    recording.interval = c.snapshot_incremental_interval;
    recording.encoding.compress = options.compression != Compression::kNone;
    recording.encoding.zstd_level = options.zstd_level;
    recording.encoding.recipients = options.recipients;
    std::weak_ptr<DaemonRuntime> weak = runtime;
    recording.take_base = [weak, &jobs]() {
      std::shared_ptr<DaemonRuntime> self = weak.lock();
      if (!self) return false;
      try {
        jobs.Start("scheduled-save",
                   [self](JobContext& job) { self->service_->ScheduledSave(job); });
        return true;
      } catch (const Error& e) {
        spdlog::debug("increments: the base waits: {}", e.what());
        return false;  // another job runs
      }
    };
    r.recorder_ = std::make_unique<IncrementRecorder>(recording, *watcher, *replay);
    options.on_saved = [recorder = r.recorder_.get()](const SnapshotRecord& record,
                                                      const std::vector<SnapshotStore*>& stored) {
      if (record.datastore != "etcd") return;
      ChainBase base;
      base.name = record.name;
      base.revision = static_cast<int64_t>(record.revision);
      base.compact_revision = static_cast<int64_t>(record.compact_revision);
      base.created_unix = record.created_at;
      base.stores = stored;
      recorder->StartChain(std::move(base));
    };
  }
  r.service_ = std::make_unique<SnapshotService>(options, *r.datastore_, stores, clock);

  if (r.schedule_) {
    std::weak_ptr<DaemonRuntime> weak = runtime;
    r.scheduler_ = std::make_unique<Scheduler>(*r.schedule_, clock, [weak, &jobs](SystemTime fire) {
      std::shared_ptr<DaemonRuntime> self = weak.lock();
      if (!self) return;
      try {
        // The job keeps this runtime alive even if a reload replaces it meanwhile.
        jobs.Start("scheduled-save",
                   [self, fire](JobContext& job) { self->service_->ScheduledSave(job, fire); });
      } catch (const Error& e) {
        spdlog::warn("skipping scheduled snapshot: {}", e.what());
      }
    });
  }

  ApiBackend backend;
  backend.service = r.service_.get();
  backend.jobs = &jobs;
  backend.etcd = sqlite ? nullptr : r.etcd_.get();
  backend.etcd_endpoint = endpoint.url;
  backend.datastore_kind = std::string(r.datastore_->Kind());
  backend.datastore_location = r.datastore_->Location();
  backend.node_name = c.node_name;
  backend.scheduled_prefix = scheduled_prefix;
  backend.on_demand_prefix = std::string(sqlite ? kSqliteOnDemandPrefix : kOnDemandPrefix);
  backend.default_retention = ScheduledRetention(c, c.snapshot_retention);
  backend.schedule = r.schedule_ ? r.schedule_->spec() : "";
  backend.upload_by = r.upload_coordinator_ ? "one-server" : "";
  std::weak_ptr<DaemonRuntime> weak = runtime;
  backend.retain = [weak]() -> std::shared_ptr<const void> { return weak.lock(); };
  backend.next_run = [weak]() -> std::optional<SystemTime> {
    auto self = weak.lock();
    return self && self->scheduler_ ? self->scheduler_->NextRun() : std::nullopt;
  };
  backend.config_summary = ConfigToJson(c);
  backend.config_sources = ConfigSourcesToJson(c);
  backend.metrics = &metrics;
  backend.restore_staging_dir = ParentDir(c.snapshot_dir) + "/.restore";
  backend.inspect_scratch_dir = c.state_dir.empty() ? "" : c.state_dir + "/inspect";
  backend.point_in_time_work_dir = c.state_dir + "/point-in-time";
  if (r.recorder_) {
    backend.increments = [recorder = r.recorder_.get()] { return recorder->Status(); };
  }
  backend.etcd_kv = sqlite ? nullptr : r.etcd_kv_;
  backend.data_dir = c.data_dir;
  backend.token_file = c.token_file;
  backend.token_hash = [&c] { return ReadTokenHash(c); };
  backend.storage_status = [weak] {
    nlohmann::json list = nlohmann::json::array();
    auto self = weak.lock();
    if (!self) return list;
    list.push_back(
        {{"storage", "local"}, {"location", "file://" + self->local_->dir()}, {"ok", true}});
    if (self->s3_) {
      StoreHealthState health = self->s3_health_->State();
      nlohmann::json entry = {{"storage", "s3"},
                              {"location", self->s3_->LocationOf("")},
                              {"ok", health.ok},
                              {"checked", health.checked}};
      if (!health.error.empty()) entry["error"] = health.error;
      list.push_back(entry);
    }
    return list;
  };
  r.router_ = std::make_unique<ApiRouter>(backend);
  return runtime;
}

DaemonRuntime::~DaemonRuntime() {
  Stop();
}

void DaemonRuntime::Start() {
  local_->Prepare();
  // At once, before any save of ours: the `.part` files an earlier process of ours left.
  SnapshotService::RemoveIncompleteIn(*local_);
  local_upkeep_ = std::make_unique<PeriodicTask>(
      "cleanup of local leftovers",
      [local = local_.get()] { SnapshotService::RemoveIncompleteIn(*local); },
      kLocalUpkeepInterval);
  local_upkeep_->Start(kLocalUpkeepInterval);
  if (s3_) {
    s3_upkeep_ = std::make_unique<PeriodicTask>(
        "S3 cleanup",
        [s3 = s3_.get(), service = service_.get(), counted = false]() mutable {
          s3->RecoverJournaled();
          if (!counted) {
            service->RefreshStoredCounts();
            counted = true;
          }
          SnapshotService::RemoveIncompleteIn(*s3);
          spdlog::debug("S3 cleanup finished");
        },
        kS3UpkeepInterval);
    s3_upkeep_->Start();
  } else {
    service_->RefreshStoredCounts();
  }
  if (etcd_health_) {
    etcd_health_->Start();
    std::weak_ptr<DaemonRuntime> weak = weak_from_this();
    metrics_.SetEtcdUp([weak] {
      auto self = weak.lock();
      return self && self->etcd_health_ && self->etcd_health_->State().ok;
    });
  }
  datastore_->Prepare();
  if (s3_) {
    metrics_.AddS3RequestSource([counters = s3_->counters()] {
      return S3RequestCounts{counters->requests.load(), counters->retries.load()};
    });
  }
  if (s3_health_) s3_health_->Start();
  if (upload_coordinator_) {
    // Runs another server claimed: taken over here when that server gives up before ready.
    std::weak_ptr<DaemonRuntime> weak = weak_from_this();
    upload_followup_ = std::make_unique<PeriodicTask>(
        "follow-up of uploads claimed by other servers",
        [weak] {
          std::shared_ptr<DaemonRuntime> self = weak.lock();
          if (!self) return;
          self->service_->FollowPendingUploads([&self](const PendingUpload& pending) {
            try {
              self->jobs_.Start("scheduled-upload", [self, pending](JobContext& job) {
                self->service_->TakeOverUpload(job, pending);
              });
              return true;
            } catch (const Error&) {
              return false;  // another job runs: next time
            }
          });
        },
        std::chrono::seconds(1));
    upload_followup_->Start(std::chrono::seconds(1));
  }
  if (scheduler_) scheduler_->Start();
  if (recorder_) {
    std::weak_ptr<DaemonRuntime> weak = weak_from_this();
    metrics_.SetIncrementalLag([weak] {
      auto self = weak.lock();
      return self && self->recorder_ ? self->recorder_->Lag()
                                     : std::vector<std::pair<std::string, double>>{};
    });
    recorder_->Start();
  }
  const Config& c = config_;
  spdlog::info("node {}, {} {}, snapshots in {}", c.node_name, datastore_->Kind(),
               datastore_->Location(), c.snapshot_dir);
  if (s3_) spdlog::info("S3 storage enabled at {}", s3_->LocationOf(""));
  if (schedule_) {
    std::string keeping = DescribeRetention(ScheduledRetention(c, c.snapshot_retention));
    if (s3_) {
      keeping += " locally; " + DescribeRetention(ScheduledRetention(c, c.s3.retention)) + " in S3";
    }
    spdlog::info("scheduled snapshots \"{}\" with prefix {} keeping {}", schedule_->spec(),
                 scheduled_prefix_, keeping);
  } else {
    spdlog::info("scheduled snapshots are disabled (etcd-disable-snapshots)");
  }
}

void DaemonRuntime::Stop() {
  s3_cancel_ = true;
  if (s3_upkeep_) s3_upkeep_->Stop();
  if (local_upkeep_) local_upkeep_->Stop();
  if (scheduler_) scheduler_->Stop();
  if (upload_followup_) upload_followup_->Stop();
  if (s3_health_) s3_health_->Stop();
  if (etcd_health_) etcd_health_->Stop();
  // After S3's requests were cancelled: the last interval's changes reach the local store at
  // least, and stopping never waits on a slow S3.
  if (recorder_) recorder_->Stop();
}

}  // namespace snapd
