// ThrowawayEtcd: `snapshot restore` of the base, then etcd itself, both with their output in a
// log file whose end goes into our errors, each in its own process group and killed with us.
#include "incremental/throwaway_etcd.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/file_descriptor.h"
#include "etcd/grpc_etcd_client.h"
#include "restore/data_dir_restore.h"
#include "restore/file_moves.h"

extern char** environ;

namespace snapd {
namespace {

constexpr int kStartAttempts = 3;
constexpr auto kReadyDeadline = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(10);
constexpr auto kPoll = std::chrono::milliseconds(50);
const char kName[] = "pit";

// A loopback port nothing listens on right now (etcd may still lose it to someone else).
int FreeLoopbackPort() {
  FileDescriptor fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowSystemError("socket", errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    ThrowSystemError("bind a free loopback port", errno);
  }
  return ntohs(address.sin_port);
}

std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) != 0) throw Error::NotFound(program + ": not executable");
    return program;
  }
  std::string found = FindInPath(program);
  if (found.empty()) throw Error::NotFound(program + ": not found in PATH");
  return found;
}

// Starts argv with stdout and stderr appended to `log_path`, stdin from /dev/null, in a process
// group of its own (a terminal's Ctrl-C is ours to pass on) and SIGKILLed when the forking thread
// dies (so a killed daemon leaves no etcd behind). fork rather than posix_spawn for the
// PR_SET_PDEATHSIG; the child makes only async-signal-safe calls.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
            const std::string& log_path) {
  const std::string program = ResolveProgram(argv.front());
  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    bool replaced = false;
    for (const std::string& e : extra_env) {
      replaced = replaced || text.substr(0, text.find('=')) == e.substr(0, e.find('='));
    }
    if (!replaced) env.emplace_back(text);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> env_pointers;
  for (std::string& entry : env) env_pointers.push_back(entry.data());
  env_pointers.push_back(nullptr);

  FileDescriptor log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (log.get() < 0) ThrowSystemError("open " + log_path, errno);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) ThrowSystemError("fork for " + program, errno);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(log.get(), 1);
    ::dup2(log.get(), 2);
    ::close_range(3, ~0U, 0);
    ::execve(program.c_str(), arg_pointers.data(), env_pointers.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: a signal sent before the child ran must reach its group
  return pid;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

}  // namespace

ThrowawayEtcd::ThrowawayEtcd(ThrowawayEtcdOptions options)
    : options_(std::move(options)),
      data_dir_(options_.work_dir + "/etcd-data"),
      log_path_(options_.work_dir + "/etcd.log") {}

ThrowawayEtcd::~ThrowawayEtcd() {
  Stop();
  RemoveFiles();
}

void ThrowawayEtcd::Start(const std::function<void(const std::string&)>& log) {
  if (options_.work_dir.empty()) throw Error::InvalidInput("no work dir for the private etcd");
  std::error_code ignored;
  std::filesystem::remove(log_path_, ignored);
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    if (TryStart(log)) return;
  }
  throw Error::Permanent("etcd exited " + std::to_string(kStartAttempts) +
                         " times before it answered; the end of its log:\n" + LogTail());
}

bool ThrowawayEtcd::TryStart(const std::function<void(const std::string&)>& log) {
  const int client_port = FreeLoopbackPort();
  int peer_port = FreeLoopbackPort();
  while (peer_port == client_port) peer_port = FreeLoopbackPort();
  url_ = "http://127.0.0.1:" + std::to_string(client_port);
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port);
  log("restoring base into a private etcd on 127.0.0.1:" + std::to_string(client_port));
  // The peer URL is written into the restored membership: a new port needs a new restore.
  Restore(peer_url);
  pid_ = Spawn({options_.etcd_binary, "--name", kName, "--data-dir", data_dir_,
                "--listen-client-urls", url_, "--advertise-client-urls", url_, "--listen-peer-urls",
                peer_url, "--initial-advertise-peer-urls", peer_url, "--initial-cluster",
                std::string(kName) + "=" + peer_url, "--quota-backend-bytes",
                std::to_string(options_.quota_backend_bytes),
                // No raft snapshots mid-replay: they cost time and nothing here needs them.
                "--snapshot-count", "10000000",
                // A revision of many events (a lease revoked with its keys) is one transaction.
                "--max-txn-ops", "1000000", "--max-request-bytes", std::to_string(128 << 20)},
               {}, log_path_);

  GrpcEtcdClient client(EtcdEndpoint{url_, {}, std::chrono::seconds(60)});
  const auto deadline = std::chrono::steady_clock::now() + kReadyDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      log("the private etcd " + DescribeStatus(status) + " before it answered");
      return false;
    }
    try {
      client.Status(std::chrono::seconds(1));
      return true;
    } catch (const Error&) {
    }
    std::this_thread::sleep_for(kPoll);
  }
  Stop();
  throw Error::Permanent("the private etcd on " + url_ + " did not answer within " +
                         std::to_string(kReadyDeadline.count()) + " s; the end of its log:\n" +
                         LogTail());
}

void ThrowawayEtcd::Restore(const std::string& peer_url) {
  std::error_code error;
  std::filesystem::remove_all(data_dir_, error);
  if (error) throw Error::Permanent("remove " + data_dir_ + ": " + error.message());
  EtcdRestoreOptions restore;
  restore.staged_path = options_.base_path;
  restore.name = kName;
  restore.initial_cluster = std::string(kName) + "=" + peer_url;
  restore.initial_advertise_peer_urls = peer_url;
  restore.restore_tool = options_.restore_tool;
  const SnapshotRestoreCommand command = MakeSnapshotRestoreCommand(restore, data_dir_);
  const pid_t pid = Spawn(command.argv, command.environment, log_path_);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) ThrowSystemError("wait for " + command.argv.front(), errno);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error::Permanent(BaseNameOf(command.argv.front()) + " snapshot restore " +
                           options_.base_path + " " + DescribeStatus(status) +
                           "; the end of its log:\n" + LogTail());
  }
}

void ThrowawayEtcd::Stop() {
  if (pid_ <= 0) return;
  if (::kill(-pid_, SIGTERM) != 0) ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno != EINTR)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (::kill(-pid_, SIGKILL) != 0) ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string ThrowawayEtcd::LogTail() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  // The last ten lines, at most 4 KiB of them.
  size_t start = all.size();
  for (int lines = 0; start > 0; --start) {
    if (all[start - 1] == '\n' && start != all.size() && ++lines == 10) break;
  }
  if (all.size() - start > 4096) start = all.size() - 4096;
  return all.substr(start);
}

void ThrowawayEtcd::RemoveFiles() {
  std::error_code ignored;
  std::filesystem::remove_all(data_dir_, ignored);
  std::filesystem::remove(log_path_, ignored);
}

}  // namespace snapd
