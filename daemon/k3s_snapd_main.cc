// k3s-snapd: wires config, etcd, stores, jobs, the schedule and the control socket together,
// then waits for signals. Runs in the foreground (systemd).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "backup/job_runner.h"
#include "backup/scheduler.h"
#include "backup/snapshot_service.h"
#include "backup/store_health.h"
#include "config/config_loader.h"
#include "control/api_router.h"
#include "control/control_server.h"
#include "core/error.h"
#include "etcd/gateway_etcd_client.h"
#include "schedule/cron_schedule.h"
#include "snapshot/token_hash.h"
#include "store/local_store.h"
#include "store/s3_store.h"

namespace snapd {
namespace {

constexpr const char* kUsage = R"(Usage: k3s-snapd [--config-dir DIR] [--KEY=VALUE ...]

Takes scheduled and on-demand etcd snapshots the way `k3s etcd-snapshot` does, and serves the
control API that snapctl uses. Configuration: every *.yaml in DIR (default /etc/k3s-snapd.d),
in file-name order, then flags named like the keys (see docs/config-reference.md).

  --config-dir DIR   read configuration drop-ins from DIR
  --help             show this help
  --version          print the version
)";

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("k3s-snapd");
  // Under systemd the journal stamps time itself.
  if (std::getenv("JOURNAL_STREAM") != nullptr) {
    logger->set_pattern("%l: %v");
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// "FILE: key: message" or "--key: message", whichever set the key.
Error ConfigError(const Config& config, const std::string& key, const std::string& message) {
  std::string source = config.SourceOf(key);
  if (source.starts_with("--")) return Error::InvalidInput(source + ": " + message);
  return Error::InvalidInput(source + ": " + key + ": " + message);
}

std::string ReadTokenHash(const Config& config) {
  if (!config.token.empty()) return TokenHash(config.token);
  std::ifstream in(config.token_file);
  if (!in) return "";
  std::stringstream text;
  text << in.rdbuf();
  return TokenHash(text.str());
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

int Run(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << "k3s-snapd " << K3S_SNAPD_VERSION << "\n";
      return 0;
    }
  }
  Config config;
  std::optional<CronSchedule> schedule;
  EtcdEndpoint endpoint;
  // Set at shutdown: stops S3 transfers and retry waits so SIGTERM is quick.
  static std::atomic<bool> stopping{false};
  std::optional<S3StoreOptions> s3_options;
  try {
    config = LoadConfig(args);
    if (!config.disable_snapshots) {
      try {
        schedule = CronSchedule::Parse(config.snapshot_schedule_cron);
      } catch (const Error& e) {
        throw ConfigError(config, "etcd-snapshot-schedule-cron", e.what());
      }
    }
    endpoint.url = config.etcd_endpoint;
    if (config.etcd_endpoint.starts_with("https://")) endpoint.tls = EtcdTls(config);
    if (config.s3.enabled) {
      s3_options.emplace();
      s3_options->client = S3ClientOptionsFromConfig(config.s3);
      s3_options->client.cancel = &stopping;
      s3_options->folder = config.s3.folder;
      s3_options->node_name = config.node_name;
    }
  } catch (const Error& e) {
    std::cerr << "k3s-snapd: config: " << e.what() << "\n";
    return 2;
  }
  SetUpLogging(config.log_level);

  // Signals are taken by sigwait in this thread only; every thread started below inherits
  // the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  SystemClock clock;
  GatewayEtcdClient etcd(endpoint);

  LocalStore local(config.snapshot_dir, config.node_name);
  local.Prepare();

  std::vector<SnapshotStore*> stores = {&local};
  std::unique_ptr<S3Store> s3;
  std::unique_ptr<StoreHealth> s3_health;
  if (s3_options) {
    s3_options->token_hash = [&config] { return ReadTokenHash(config); };
    s3 = std::make_unique<S3Store>(*s3_options);
    stores.push_back(s3.get());
    s3_health = std::make_unique<StoreHealth>([&s3] { s3->Check(); }, std::chrono::minutes(10),
                                              std::chrono::seconds(30));
    s3_health->Start();
  }

  SnapshotServiceOptions options;
  options.node_name = config.node_name;
  options.scheduled_prefix = config.snapshot_name;
  options.scheduled_retention["local"] = config.snapshot_retention;
  options.scheduled_retention["s3"] = config.s3.retention;
  options.token_hash = [&config] { return ReadTokenHash(config); };
  SnapshotService service(options, etcd, stores, clock);
  service.RemoveIncomplete();

  JobRunner jobs(clock);
  std::unique_ptr<Scheduler> scheduler;
  if (schedule) {
    scheduler = std::make_unique<Scheduler>(*schedule, clock, [&] {
      try {
        jobs.Start("scheduled-save", [&](JobContext& job) { service.ScheduledSave(job); });
      } catch (const Error& e) {
        spdlog::warn("skipping scheduled snapshot: {}", e.what());
      }
    });
  }

  ApiBackend backend;
  backend.service = &service;
  backend.jobs = &jobs;
  backend.etcd = &etcd;
  backend.etcd_endpoint = config.etcd_endpoint;
  backend.node_name = config.node_name;
  backend.scheduled_prefix = config.snapshot_name;
  backend.default_retention = config.snapshot_retention;
  backend.schedule = schedule ? schedule->spec() : "";
  backend.next_run = [&scheduler]() -> std::optional<SystemTime> {
    return scheduler ? scheduler->NextRun() : std::nullopt;
  };
  backend.config_summary = ConfigToJson(config);
  backend.storage_status = [&] {
    nlohmann::json list = nlohmann::json::array();
    list.push_back({{"storage", "local"}, {"location", "file://" + local.dir()}, {"ok", true}});
    if (s3) {
      StoreHealthState health = s3_health->State();
      nlohmann::json entry = {{"storage", "s3"},
                              {"location", s3->LocationOf("")},
                              {"ok", health.ok},
                              {"checked", health.checked}};
      if (!health.error.empty()) entry["error"] = health.error;
      list.push_back(entry);
    }
    return list;
  };
  ApiRouter router(backend);

  ControlServer::Options server_options;
  server_options.socket_path = config.control_socket;
  ControlServer server(server_options, [&router](const ApiRequest& r) { return router.Handle(r); });
  server.Start();
  if (scheduler) scheduler->Start();

  spdlog::info("k3s-snapd {} started: node {}, etcd {}, snapshots in {}, control socket {}",
               K3S_SNAPD_VERSION, config.node_name, config.etcd_endpoint, config.snapshot_dir,
               config.control_socket);
  if (s3) spdlog::info("S3 storage enabled at {}", s3->LocationOf(""));
  if (schedule) {
    spdlog::info("scheduled snapshots \"{}\" with prefix {} keeping {}", schedule->spec(),
                 config.snapshot_name, config.snapshot_retention);
  } else {
    spdlog::info("scheduled snapshots are disabled (etcd-disable-snapshots)");
  }
  try {
    EtcdStatus status = etcd.Status(std::chrono::seconds(3));
    spdlog::info("etcd {} reachable: version {}, database {} bytes", config.etcd_endpoint,
                 status.version, status.db_size);
  } catch (const std::exception& e) {
    spdlog::warn("etcd not reachable yet (snapshots will fail until it is): {}", e.what());
  }

  for (;;) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number == SIGHUP) {
      spdlog::warn("SIGHUP: configuration reload is not supported yet; restart to apply changes");
      continue;
    }
    spdlog::info("received {}, stopping", strsignal(signal_number));
    break;
  }
  stopping = true;
  if (scheduler) scheduler->Stop();
  server.Stop();
  jobs.Shutdown();
  if (s3_health) s3_health->Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace snapd

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return snapd::Run(args);
  } catch (const std::exception& e) {
    std::cerr << "k3s-snapd: " << e.what() << "\n";
    return 1;
  }
}
