// k3s-snapd: loads the configuration, builds the runtime from it, serves the control socket
// and waits for signals: SIGHUP reloads (keeping the old configuration when the new one is
// invalid), SIGTERM/SIGINT stop within seconds, cancelling a running save cleanly.
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>

#include "backup/job_runner.h"
#include "config/config_loader.h"
#include "config/config_validation.h"
#include "control/access_policy.h"
#include "control/control_server.h"
#include "control/peer_credentials.h"
#include "control/service_notifier.h"
#include "core/directory_lock.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/time_format.h"
#include "daemon_runtime.h"

namespace snapd {
namespace {

constexpr const char* kUsage = R"(Usage: k3s-snapd [--config-dir DIR] [--KEY=VALUE ...]

Takes scheduled and on-demand etcd snapshots the way `k3s etcd-snapshot` does, and serves the
control API that snapctl uses. Configuration: k3s's own config file for the keys k3s shares
(key k3s-config, default /etc/rancher/k3s/config.yaml and its config.yaml.d/), then every
*.yaml in DIR (default /etc/k3s-snapd.d) in file-name order, then flags named like the keys:
a later source wins (see docs/config-reference.md).
SIGHUP re-reads the configuration; SIGTERM stops.

  --config-dir DIR   read configuration drop-ins from DIR
  --help             show this help
  --version          print the version
)";

// The STATUS= line systemd shows: the last save's outcome.
std::string ServiceStatus(const JobRunner& jobs) {
  auto ok = jobs.LastFinished(kSaveJobKinds, "succeeded");
  auto failed = jobs.LastFinished(kSaveJobKinds, "failed");
  if (failed && (!ok || failed->finished_at >= ok->finished_at)) {
    return "last snapshot FAILED at " + FormatRfc3339(failed->finished_at) + ": " + failed->error;
  }
  if (ok) return "last snapshot " + ok->snapshot + " at " + FormatRfc3339(ok->finished_at);
  return "running, no snapshot yet";
}

// Who may use the control socket: root and our own user everything, the socket's group (set
// at start) what control-socket-group-access says.
AccessPolicy SocketAccess(const Config& config, gid_t socket_group) {
  AccessPolicy policy;
  policy.daemon_uid = geteuid();
  policy.group = socket_group;
  if (const struct group* entry = ::getgrgid(socket_group)) policy.group_name = entry->gr_name;
  policy.group_access = ParseGroupAccess(config.control_socket_group_access);
  policy.unmapped_uid = UnmappedPeerUid();
  return policy;
}

// The runtime requests and jobs use; replaced whole on reload.
class CurrentRuntime {
 public:
  std::shared_ptr<DaemonRuntime> Get() const {
    std::lock_guard lock(mutex_);
    return runtime_;
  }
  void Set(std::shared_ptr<DaemonRuntime> runtime) {
    std::lock_guard lock(mutex_);
    runtime_ = std::move(runtime);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<DaemonRuntime> runtime_;
};

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
  SystemClock clock;
  JobRunner jobs(clock);
  // One metrics object for the process, so counters keep rising across reloads.
  SnapshotMetrics metrics(clock.Now());
  metrics.SetJobRunning([&jobs] { return jobs.Running().has_value(); });
  CurrentRuntime current;
  try {
    Config config = LoadConfig(args);
    current.Set(DaemonRuntime::Build(config, jobs, clock, metrics));
  } catch (const Error& e) {
    std::cerr << "k3s-snapd: config: " << e.what() << "\n";
    return 2;
  }
  const Config config = current.Get()->config();  // the start-up one, kept for comparison
  SetUpLogging(config.log_level);
  // Before the socket: a second daemon on the same state dir must not touch the first's.
  std::optional<DirectoryLock> state_lock;
  try {
    state_lock.emplace(config.state_dir);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kConflict) {
      std::cerr << "k3s-snapd: " << e.what() << "\n";
    } else {
      std::cerr << "k3s-snapd: " << WhereSet(config, "state-dir") << ": " << e.what() << "\n";
    }
    return 1;
  }

  // Signals are taken by sigtimedwait in this thread only; every thread started below
  // inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Over a file-size limit a write must fail with EFBIG (the save then fails and says so),
  // not kill the daemon.
  signal(SIGXFSZ, SIG_IGN);

  ControlServer::Options server_options;
  server_options.socket_path = config.control_socket;
  server_options.metrics_address = config.metrics_address;
  if (!config.control_socket_group.empty()) {
    const std::string& name = config.control_socket_group;
    group* g = std::isdigit(static_cast<unsigned char>(name[0]))
                   ? ::getgrgid(static_cast<gid_t>(std::stoul(name)))
                   : ::getgrnam(name.c_str());
    if (g == nullptr) {
      std::cerr << "k3s-snapd: config: " << config.SourceOf("control-socket-group")
                << ": control-socket-group: no group \"" << name << "\"\n";
      return 2;
    }
    server_options.socket_group = g->gr_gid;
  }
  // Without control-socket-group the socket keeps the group it was created with: ours.
  const gid_t socket_group = server_options.socket_group != static_cast<gid_t>(-1)
                                 ? server_options.socket_group
                                 : getegid();
  server_options.access = SocketAccess(config, socket_group);
  ControlServer server(server_options,
                       [&current](const ApiRequest& r) { return current.Get()->Handle(r); });
  current.Get()->Start();
  server.Start();
  ServiceNotifier notifier;
  std::string status = ServiceStatus(jobs);
  notifier.Ready(status);
  // The watchdog is fed only while this loop turns: a hung main loop gets the unit restarted.
  std::atomic<int64_t> heartbeat{0};
  auto now_seconds = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  heartbeat = now_seconds();
  notifier.StartWatchdog([&] { return now_seconds() - heartbeat.load() < 10; });
  spdlog::info("k3s-snapd {} started, control socket {}", K3S_SNAPD_VERSION, config.control_socket);
  {
    const AccessPolicy& access = *server_options.access;
    spdlog::info("control socket: root may do everything, group {} (gid {}) may {}",
                 access.group_name.empty() ? "-" : access.group_name, access.group,
                 config.control_socket_group_access);
    if (access.unmapped_uid != static_cast<uid_t>(-1)) {
      spdlog::info(
          "control socket: this user namespace shows other users as uid {}; the socket's "
          "mode and group alone decide which of them get in, and they count as group members",
          access.unmapped_uid);
    }
  }
  if (!config.metrics_address.empty()) {
    spdlog::info("metrics served on http://{}/metrics", server.MetricsEndpoint());
  }
  if (current.Get()->SavesFromEtcd()) {
    try {
      EtcdStatus status = current.Get()->etcd().Status(std::chrono::seconds(3));
      spdlog::info("etcd reachable: version {}, database {} bytes", status.version, status.db_size);
    } catch (const std::exception& e) {
      spdlog::warn("etcd not reachable yet (snapshots will fail until it is): {}", e.what());
    }
  }

  // A valid new configuration waits here until no job runs, so a save never sees its
  // stores change under it.
  std::shared_ptr<DaemonRuntime> pending;
  for (;;) {
    heartbeat = now_seconds();
    if (std::string now_status = ServiceStatus(jobs); now_status != status) {
      status = now_status;
      notifier.Status(status);
    }
    if (pending) {
      try {
        jobs.Run("reload", [&](JobContext&) {
          current.Get()->Stop();
          current.Set(pending);
          pending->Start();
          SetUpLogging(pending->config().log_level);
          server.SetAccessPolicy(SocketAccess(pending->config(), socket_group));
        });
        pending.reset();
        spdlog::info("configuration reloaded");
        notifier.Ready(status);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kConflict) {
          spdlog::error("reload failed: {}", e.what());
          pending.reset();
        }
      }
    }
    timespec tick{1, 0};
    int signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number < 0) continue;  // timeout or EINTR: look at the pending reload again
    if (signal_number == SIGHUP) {
      spdlog::info("SIGHUP: reloading the configuration");
      notifier.Reloading();
      try {
        Config next = LoadConfig(args);
        if (next.control_socket != config.control_socket) {
          spdlog::warn("control-socket changed to {}: takes effect at the next restart",
                       next.control_socket);
        }
        if (next.state_dir != config.state_dir) {
          spdlog::warn("state-dir changed to {}: takes effect at the next restart", next.state_dir);
          next.state_dir = config.state_dir;
        }
        if (next.control_socket_group != config.control_socket_group) {
          spdlog::warn("control-socket-group changed to \"{}\": takes effect at the next restart",
                       next.control_socket_group);
        }
        pending = DaemonRuntime::Build(next, jobs, clock, metrics);
        if (jobs.Running()) spdlog::info("reload waits for the running job to finish");
      } catch (const std::exception& e) {
        spdlog::error("reload rejected, keeping the running configuration: {}", e.what());
        notifier.Ready(status);
      }
      continue;
    }
    spdlog::info("received {}, stopping", strsignal(signal_number));
    break;
  }
  notifier.Stopping();
  current.Get()->Stop();  // cancels S3 transfers and retry waits, so SIGTERM is quick
  jobs.Shutdown();        // cancels a running save; its writers remove their partial files
  server.Stop();
  notifier.StopWatchdog();
  current.Set(nullptr);
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
