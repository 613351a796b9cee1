// Tests of the control socket against other users: the real ControlServer, and clients forked
// off as other uids and groups (the tests run as root), for the access policy (403 vs 200),
// the per-user connection cap, slow clients and slow handlers of other users.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "backup/scheduler.h"
#include "control/control_client.h"
#include "control/control_server.h"
#include "core/clock.h"
#include "schedule/cron_schedule.h"

namespace snapd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;
constexpr uid_t kOtherUser = 65533;
constexpr uid_t kThirdUser = 65532;
constexpr gid_t kNogroup = 65534;
constexpr gid_t kSnapGroup = 4242;  // the socket's group in these tests; needs no /etc/group entry

// Switching users needs root; elsewhere these tests say so and pass without checking anything.
bool RunningAsRoot() {
  if (geteuid() == 0) return true;
  WARN("not root: cannot run clients as other users, skipped");
  return false;
}

// A fresh directory under /tmp that other users can enter, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/snapd-access-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
    chmod(path_.c_str(), 0755);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

ApiResponse Echo(const ApiRequest& request) {
  nlohmann::json body = {{"target", request.target},
                         {"uid", request.peer.uid},
                         {"gid", request.peer.gid},
                         {"groups", request.peer.groups},
                         {"pid", request.peer.pid}};
  return ApiResponse{200, "application/json", body.dump()};
}

// --- Clients in forked processes, as other users. They use only raw sockets: no Catch2.

// Connects to the UNIX socket at `path`; -errno on failure.
int TryConnect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

bool SendText(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string RequestText(const std::string& method, const std::string& target, bool close) {
  std::string body = method == "POST" ? "{}" : "";
  return method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" +
         (close ? "Connection: close\r\n" : "") + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// Reads one response with a Content-Length body (all ours have one); "" on EOF or timeout.
std::string ReadResponse(int fd, std::chrono::milliseconds limit = 5000ms) {
  std::string received;
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    size_t header_end = received.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      size_t at = received.find("Content-Length: ");
      if (at != std::string::npos && at < header_end) {
        size_t length = std::strtoul(received.c_str() + at + 16, nullptr, 10);
        if (received.size() >= header_end + 4 + length) {
          return received.substr(0, header_end + 4 + length);
        }
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return "";
    received.append(chunk, static_cast<size_t>(n));
  }
  return "";
}

int StatusOf(const std::string& response) {
  if (!response.starts_with("HTTP/1.1 ")) return 0;
  return std::atoi(response.c_str() + 9);
}

std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// What the forked client sees of its parent: a channel for reports, and a gate to wait at.
class ChildSide {
 public:
  ChildSide(int report_fd, int gate_fd) : report_fd_(report_fd), gate_fd_(gate_fd) {}
  void Report(const std::string& text) {
    std::string framed = text + '\0';
    (void)!write(report_fd_, framed.data(), framed.size());
  }
  void WaitAtGate() {
    char byte;
    (void)!read(gate_fd_, &byte, 1);
  }

 private:
  int report_fd_;
  int gate_fd_;
};

// Runs `work` in a child process as `uid`, `gid` and supplementary `groups`.
class ClientAs {
 public:
  ClientAs(uid_t uid, gid_t gid, std::vector<gid_t> groups,
           const std::function<void(ChildSide&)>& work) {
    int report[2], gate[2];
    REQUIRE(pipe2(report, O_CLOEXEC) == 0);
    REQUIRE(pipe2(gate, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      // Keep only the pipes: a copy of one of the server's connections would keep it open
      // after the server closed it.
      const int report_fd = dup2(report[1], 1000), gate_fd = dup2(gate[0], 1001);
      close_range(3, 999, 0);
      close_range(1002, ~0U, 0);
      ChildSide side(report_fd, gate_fd);
      if (setgroups(groups.size(), groups.data()) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        side.Report(std::string("cannot switch user: ") + std::strerror(errno));
        _exit(2);
      }
      try {
        work(side);
      } catch (...) {
        _exit(3);
      }
      _exit(0);
    }
    close(report[1]);
    close(gate[0]);
    report_fd_ = report[0];
    gate_fd_ = gate[1];
  }
  ~ClientAs() {
    if (gate_fd_ >= 0) close(gate_fd_);
    if (Finish(5000ms) < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(report_fd_);
  }
  ClientAs(const ClientAs&) = delete;
  ClientAs& operator=(const ClientAs&) = delete;

  // The child's next report; "" when it exited or `limit` passed first.
  std::string NextReport(std::chrono::milliseconds limit = 15000ms) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      size_t end = buffer_.find('\0');
      if (end != std::string::npos) {
        std::string report = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return report;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return "";
      pollfd p{report_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t n = read(report_fd_, chunk, sizeof chunk);
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Lets the child past WaitAtGate.
  void OpenGate() {
    if (gate_fd_ >= 0) close(gate_fd_);
    gate_fd_ = -1;
  }

  // The child's exit status once it exited within `limit`; -1 otherwise.
  int Finish(std::chrono::milliseconds limit) {
    if (exit_status_ >= 0) return exit_status_;
    const auto deadline = Clock::now() + limit;
    do {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        return exit_status_;
      }
      std::this_thread::sleep_for(10ms);
    } while (Clock::now() < deadline);
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int report_fd_ = -1;
  int gate_fd_ = -1;
  int exit_status_ = -1;
  std::string buffer_;
};

struct Answer {
  int status = 0;
  nlohmann::json body;
};

// One request, as `uid`/`gid`/`groups`, on a fresh connection. status -errno when the
// connection itself was refused.
Answer AskAs(uid_t uid, gid_t gid, std::vector<gid_t> groups, const std::string& socket_path,
             const std::string& method, const std::string& target) {
  ClientAs client(uid, gid, std::move(groups), [&](ChildSide& side) {
    int fd = TryConnect(socket_path);
    if (fd < 0) {
      side.Report(std::to_string(fd));
      return;
    }
    SendText(fd, RequestText(method, target, true));
    side.Report(ReadResponse(fd));
    close(fd);
  });
  std::string report = client.NextReport();
  REQUIRE(client.Finish(5000ms) == 0);
  Answer answer;
  if (report.starts_with("-")) {
    answer.status = std::stoi(report);
    return answer;
  }
  answer.status = StatusOf(report);
  answer.body = nlohmann::json::parse(BodyOf(report), nullptr, false);
  return answer;
}

AccessPolicy TestPolicy(GroupAccess access, uid_t unmapped = static_cast<uid_t>(-1)) {
  AccessPolicy policy;
  policy.daemon_uid = geteuid();
  policy.group = kSnapGroup;
  policy.group_access = access;
  policy.unmapped_uid = unmapped;
  return policy;
}

// A socket everyone may connect to, so that only the policy decides.
ControlServer::Options OpenSocket(const std::string& path, AccessPolicy policy) {
  ControlServer::Options options;
  options.socket_path = path;
  options.socket_mode = 0666;
  options.access = std::move(policy);
  return options;
}

TEST_CASE("the access policy answers other users 403 before the handler runs", "[socket-access]") {
  if (!RunningAsRoot()) return;
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  std::atomic<int> handled{0};
  ControlServer server(OpenSocket(path, TestPolicy(GroupAccess::kRead)),
                       [&](const ApiRequest& request) {
                         ++handled;
                         return Echo(request);
                       });
  server.Start();
  auto as_member = [&](const std::string& method, const std::string& target) {
    return AskAs(kNobody, kSnapGroup, {}, path, method, target);
  };
  auto as_stranger = [&](const std::string& method, const std::string& target) {
    return AskAs(kNobody, kNogroup, {kNogroup}, path, method, target);
  };

  // Root may do everything.
  ControlClient root(path, 5s);
  CHECK(root.Post("/v1/snapshots", "{}").status == 200);
  CHECK(root.Delete("/v1/snapshots/on-demand-a-1").status == 200);
  CHECK(handled == 2);

  // A member (here by primary group) reads: status, list, jobs, verify, metrics, health.
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/status"},
           {"GET", "/v1/snapshots"},
           {"GET", "/v1/jobs/3"},
           {"POST", "/v1/verify"},
           {"GET", "/metrics"},
           {"GET", "/healthz"},
       }) {
    CAPTURE(method, target);
    Answer answer = as_member(method, target);
    CHECK(answer.status == 200);
    CHECK(answer.body["uid"] == kNobody);
    CHECK(answer.body["target"] == target);
  }
  CHECK(handled == 8);

  // ... but changes nothing.
  for (auto [method, target, operation] : std::vector<std::array<std::string, 3>>{
           {"POST", "/v1/snapshots", "save"},
           {"DELETE", "/v1/snapshots/on-demand-a-1", "delete"},
           {"DELETE", "//v1/%73napshots/on-demand-a-1", "delete"},
           {"POST", "/v1/prune", "prune"},
           {"POST", "/v1/restore", "restore"},
       }) {
    CAPTURE(method, target);
    Answer answer = as_member(method, target);
    CHECK(answer.status == 403);
    CHECK(answer.body["kind"] == "permission_denied");
    CHECK(answer.body["error"] == operation +
                                      " needs root or control-socket-group-access: write (uid "
                                      "65534 may only read)");
  }
  CHECK(handled == 8);

  // Membership by a supplementary group counts the same; the handler sees the groups.
  Answer supplementary =
      AskAs(kNobody, kNogroup, {kNogroup, kSnapGroup}, path, "GET", "/v1/status");
  CHECK(supplementary.status == 200);
  CHECK(supplementary.body["gid"] == kNogroup);
  std::vector<gid_t> groups = supplementary.body["groups"].get<std::vector<gid_t>>();
  std::sort(groups.begin(), groups.end());  // the kernel keeps them sorted anyway
  CHECK(groups == std::vector<gid_t>{kSnapGroup, kNogroup});
  CHECK(AskAs(kNobody, kNogroup, {kSnapGroup}, path, "POST", "/v1/snapshots").status == 403);
  CHECK(handled == 9);

  // Someone else may not even read, and learns what it would take.
  Answer status = as_stranger("GET", "/v1/status");
  CHECK(status.status == 403);
  CHECK(status.body["error"] ==
        "status needs root or group gid 4242; uid 65534 is not in that group");
  CHECK(as_stranger("GET", "/healthz").status == 403);
  CHECK(as_stranger("GET", "/no/such/path").status == 403);
  CHECK(as_stranger("POST", "/v1/snapshots").status == 403);
  CHECK(handled == 9);

  // control-socket-group-access: write lets members change snapshots; still nobody else.
  server.SetAccessPolicy(TestPolicy(GroupAccess::kWrite));
  CHECK(as_member("POST", "/v1/snapshots").status == 200);
  CHECK(as_member("DELETE", "/v1/snapshots/on-demand-a-1").status == 200);
  CHECK(AskAs(kNobody, kNogroup, {kSnapGroup}, path, "POST", "/v1/restore").status == 200);
  CHECK(as_stranger("POST", "/v1/prune").status == 403);
  CHECK(as_stranger("GET", "/v1/snapshots").status == 403);
  CHECK(handled == 12);

  // In a user namespace that maps only root, everyone else shows as the overflow uid: the
  // socket's mode let them in, so they count as members.
  server.SetAccessPolicy(TestPolicy(GroupAccess::kRead, kNobody));
  CHECK(as_stranger("GET", "/v1/status").status == 200);
  CHECK(as_stranger("POST", "/v1/snapshots").status == 403);
  CHECK(AskAs(kOtherUser, kNogroup, {}, path, "GET", "/v1/status").status == 403);
  CHECK(handled == 13);
}

TEST_CASE("a refused request is answered on its header: its body is never waited for",
          "[socket-access]") {
  if (!RunningAsRoot()) return;
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OpenSocket(path, TestPolicy(GroupAccess::kRead));
  options.body_limit = 1024;
  ControlServer server(options, Echo);
  server.Start();

  // Promises a body (within the limit) and sends one byte of it: a request that may be served
  // waits for the rest, a refused one is answered at once and the connection closed.
  auto send_header_only = [&](gid_t gid, const std::string& target) {
    ClientAs client(kNobody, gid, {}, [&](ChildSide& side) {
      int fd = TryConnect(path);
      SendText(fd,
               "POST " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{");
      const auto start = Clock::now();
      std::string response = ReadResponse(fd, 1000ms);
      const long ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
      char byte;
      pollfd p{fd, POLLIN, 0};
      const bool closed = poll(&p, 1, 500) > 0 && recv(fd, &byte, 1, 0) == 0;
      side.Report(std::to_string(StatusOf(response)) + " " + std::to_string(ms) + " " +
                  (closed ? "closed" : "open"));
      close(fd);
    });
    std::string report = client.NextReport();
    CHECK(client.Finish(5000ms) == 0);
    return report;
  };
  long status = 0, ms = 0;
  char state[16] = "";
  std::string stranger = send_header_only(kNogroup, "/v1/status");
  INFO(stranger);
  REQUIRE(std::sscanf(stranger.c_str(), "%ld %ld %15s", &status, &ms, state) == 3);
  CHECK(status == 403);
  CHECK(ms < 500);
  CHECK(std::string(state) == "closed");
  std::string member = send_header_only(kSnapGroup, "/v1/prune");
  INFO(member);
  REQUIRE(std::sscanf(member.c_str(), "%ld %ld %15s", &status, &ms, state) == 3);
  CHECK(status == 403);
  CHECK(ms < 500);
  CHECK(std::string(state) == "closed");
  // The same from a member for something it may do: the rest of the body is waited for.
  std::string reader = send_header_only(kSnapGroup, "/v1/verify");
  INFO(reader);
  REQUIRE(std::sscanf(reader.c_str(), "%ld %ld %15s", &status, &ms, state) == 3);
  CHECK(status == 0);
  CHECK(std::string(state) == "open");
  CHECK(AskAs(kNobody, kSnapGroup, {}, path, "POST", "/v1/verify").status == 200);
}

TEST_CASE("the socket's mode and group keep strangers from connecting at all", "[socket-access]") {
  if (!RunningAsRoot()) return;
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OpenSocket(path, TestPolicy(GroupAccess::kRead));
  options.socket_mode = 0660;
  options.socket_group = kSnapGroup;
  ControlServer server(options, Echo);
  server.Start();
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK(st.st_gid == kSnapGroup);
  CHECK((st.st_mode & 07777) == 0660);

  CHECK(AskAs(kNobody, kNogroup, {}, path, "GET", "/v1/status").status == -EACCES);
  CHECK(AskAs(kNobody, kNogroup, {kSnapGroup}, path, "GET", "/v1/status").status == 200);
  CHECK(AskAs(kNobody, kSnapGroup, {}, path, "POST", "/v1/prune").status == 403);
}

TEST_CASE("the TCP metrics listener is not judged by the socket's policy", "[socket-access]") {
  TempDir dir;
  ControlServer::Options options =
      OpenSocket(dir.Path("snapd.sock"), TestPolicy(GroupAccess::kRead));
  options.metrics_address = "127.0.0.1:0";
  ControlServer server(options, Echo);
  server.Start();
  const std::string endpoint = server.MetricsEndpoint();
  const size_t colon = endpoint.rfind(':');
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(SendText(fd, RequestText("GET", "/metrics", true)));
  std::string response = ReadResponse(fd);
  close(fd);
  CHECK(StatusOf(response) == 200);
}

// Opens `count` connections and sends a request on each; reports "STATUS STATUS ..." and the
// body of the first refusal, then keeps them open (idle) until the gate opens.
std::function<void(ChildSide&)> HoldConnections(const std::string& path, int count) {
  return [path, count](ChildSide& side) {
    std::vector<int> fds;
    std::string statuses, refusal;
    for (int i = 0; i < count; ++i) {
      int fd = TryConnect(path);
      if (fd < 0) {
        statuses += "connect" + std::to_string(fd) + " ";
        continue;
      }
      SendText(fd, RequestText("GET", "/healthz", false));
      std::string response = ReadResponse(fd);
      statuses += std::to_string(StatusOf(response)) + " ";
      if (StatusOf(response) == 503 && refusal.empty()) refusal = BodyOf(response);
      fds.push_back(fd);
    }
    side.Report(statuses);
    side.Report(refusal);
    side.WaitAtGate();
    for (int fd : fds) close(fd);
  };
}

int CountOf(const std::string& statuses, const std::string& status) {
  int count = 0;
  for (size_t at = statuses.find(status + " "); at != std::string::npos;
       at = statuses.find(status + " ", at + 1)) {
    ++count;
  }
  return count;
}

TEST_CASE("one user cannot take every connection: root and other users still get in",
          "[socket-access]") {
  if (!RunningAsRoot()) return;
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OpenSocket(path, TestPolicy(GroupAccess::kRead, kNobody));
  REQUIRE(options.max_connections == 64);
  REQUIRE(options.connections_per_user == 16);
  ControlServer server(options, Echo);
  server.Start();

  ClientAs hog(kNobody, kNogroup, {}, HoldConnections(path, 20));
  std::string statuses = hog.NextReport();
  CHECK(CountOf(statuses, "200") == 16);
  CHECK(CountOf(statuses, "503") == 4);
  std::string refusal = hog.NextReport();
  CHECK(nlohmann::json::parse(refusal, nullptr, false)["error"] ==
        "too many connections to the control socket " + path + " from uid 65534 (16)");

  // While those 16 are held open: root is answered at once, and so is another user.
  auto start = Clock::now();
  CHECK(ControlClient(path, 5s).Get("/v1/status").status == 200);
  CHECK(Clock::now() - start < 1s);
  CHECK(AskAs(kOtherUser, kSnapGroup, {}, path, "GET", "/v1/status").status == 200);
  hog.OpenGate();
  CHECK(hog.Finish(5000ms) == 0);
}

TEST_CASE("users other than root together leave root some connections", "[socket-access]") {
  if (!RunningAsRoot()) return;
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OpenSocket(path, TestPolicy(GroupAccess::kRead, kNobody));
  options.max_connections = 10;
  options.connections_per_user = 4;
  options.reserved_connections = 3;  // others share 7
  ControlServer server(options, Echo);
  server.Start();

  ClientAs first(kNobody, kSnapGroup, {}, HoldConnections(path, 5));
  CHECK(first.NextReport() == "200 200 200 200 503 ");
  first.NextReport();
  ClientAs second(kOtherUser, kSnapGroup, {}, HoldConnections(path, 4));
  CHECK(second.NextReport() == "200 200 200 503 ");
  CHECK(nlohmann::json::parse(second.NextReport(), nullptr, false)["error"] ==
        "too many connections to the control socket " + path + " from users other than root (7)");
  ClientAs third(kThirdUser, kSnapGroup, {}, HoldConnections(path, 1));
  CHECK(third.NextReport() == "503 ");
  third.NextReport();

  // Root has the 3 reserved connections, and only those.
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    int fd = TryConnect(path);
    REQUIRE(fd >= 0);
    REQUIRE(SendText(fd, RequestText("GET", "/healthz", false)));
    CHECK(StatusOf(ReadResponse(fd)) == 200);
    held.push_back(fd);
  }
  CHECK(ControlClient(path, 5s).Get("/healthz").status == 503);
  for (int fd : held) close(fd);
  for (ClientAs* client : {&first, &second, &third}) {
    client->OpenGate();
    CHECK(client->Finish(5000ms) == 0);
  }
  // Once they are gone, everyone gets in again.
  Answer again;
  for (int attempt = 0; attempt < 50 && again.status != 200; ++attempt) {
    again = AskAs(kThirdUser, kSnapGroup, {}, path, "GET", "/healthz");
    if (again.status != 200) std::this_thread::sleep_for(20ms);
  }
  CHECK(again.status == 200);
}

// Dribbles a request header one byte a second on `count` connections; reports how many the
// server closed and the longest any of them stayed open, in ms.
std::function<void(ChildSide&)> Slowloris(const std::string& path, int count) {
  return [path, count](ChildSide& side) {
    const std::string header = RequestText("GET", "/v1/status", false);
    std::vector<int> fds;
    for (int i = 0; i < count; ++i) {
      int fd = TryConnect(path);
      if (fd >= 0) fds.push_back(fd);
    }
    side.Report("connected " + std::to_string(fds.size()));
    const auto start = Clock::now();
    std::vector<bool> closed(fds.size(), false);
    size_t closed_count = 0;
    long longest_ms = 0;
    for (size_t sent = 0; closed_count < fds.size() && sent < header.size(); ++sent) {
      for (size_t i = 0; i < fds.size(); ++i) {
        if (closed[i]) continue;
        pollfd p{fds[i], POLLIN, 0};
        char byte;
        bool gone = (poll(&p, 1, 0) > 0 && recv(fds[i], &byte, 1, MSG_DONTWAIT) <= 0) ||
                    send(fds[i], &header[sent], 1, MSG_NOSIGNAL) != 1;
        if (gone) {
          closed[i] = true;
          ++closed_count;
          longest_ms = std::max<long>(
              longest_ms,
              std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
        }
      }
      std::this_thread::sleep_for(1s);
    }
    side.Report(std::to_string(closed_count) + " " + std::to_string(longest_ms));
    for (int fd : fds) close(fd);
  };
}

TEST_CASE("slow clients neither delay others' requests nor hold connections for long",
          "[socket-access]") {
  if (!RunningAsRoot()) return;
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OpenSocket(path, TestPolicy(GroupAccess::kRead, kNobody));
  options.read_timeout = 3s;  // for a whole request, however it trickles in
  ControlServer server(options, Echo);
  server.Start();

  ClientAs slow(kNobody, kNogroup, {}, Slowloris(path, 16));
  ClientAs slower(kOtherUser, kSnapGroup, {}, Slowloris(path, 16));
  CHECK(slow.NextReport() == "connected 16");
  CHECK(slower.NextReport() == "connected 16");

  // While 32 connections trickle in a byte a second, requests of root and of a third user are
  // answered as fast as ever.
  std::chrono::milliseconds slowest{0};
  for (int i = 0; i < 6; ++i) {
    auto start = Clock::now();
    CHECK(ControlClient(path, 5s).Get("/v1/status").status == 200);
    CHECK(AskAs(kThirdUser, kSnapGroup, {}, path, "GET", "/v1/status").status == 200);
    slowest = std::max(slowest,
                       std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
    std::this_thread::sleep_for(300ms);
  }
  CHECK(slowest < 1000ms);

  // Each trickling connection is dropped when its request is not in after read_timeout.
  for (ClientAs* client : {&slow, &slower}) {
    std::string report = client->NextReport(20000ms);
    INFO(report);
    long closed = 0, longest_ms = 0;
    REQUIRE(std::sscanf(report.c_str(), "%ld %ld", &closed, &longest_ms) == 2);
    CHECK(closed == 16);
    CHECK(longest_ms >= 2000);
    CHECK(longest_ms <= 5000);
    CHECK(client->Finish(5000ms) == 0);
  }
}

TEST_CASE("other users' slow handlers hold up neither root's requests nor the schedule",
          "[socket-access]") {
  if (!RunningAsRoot()) return;
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OpenSocket(path, TestPolicy(GroupAccess::kRead, kNobody));
  options.handler_threads = 1;
  options.shared_handler_threads = 1;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> blocked{0};
  ControlServer server(options, [&](const ApiRequest& request) {
    if (request.peer.uid != 0) {
      ++blocked;
      released.wait_for(10s);
    }
    return Echo(request);
  });
  server.Start();

  // A scheduler runs beside it, as in the daemon.
  SystemClock clock;
  std::atomic<int> fired{0};
  Scheduler scheduler(CronSchedule::Parse("@every 1s"), clock, [&](SystemTime) { ++fired; });
  scheduler.Start();

  // Two requests of another user: one runs and blocks its only thread, one waits for it.
  ClientAs other(kNobody, kNogroup, {}, [&](ChildSide& side) {
    int first = TryConnect(path), second = TryConnect(path);
    SendText(first, RequestText("GET", "/v1/snapshots", true));
    SendText(second, RequestText("GET", "/v1/status", true));
    side.Report(std::to_string(StatusOf(ReadResponse(first, 15000ms))) + " " +
                std::to_string(StatusOf(ReadResponse(second, 15000ms))));
  });
  for (int i = 0; i < 200 && blocked == 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(blocked == 1);

  auto start = Clock::now();
  CHECK(ControlClient(path, 5s).Post("/v1/snapshots", "{}").status == 200);
  CHECK(ControlClient(path, 5s).Get("/v1/status").status == 200);
  CHECK(Clock::now() - start < 1s);
  // The schedule fires while every handler thread of those users is stuck.
  for (int i = 0; i < 300 && fired < 2; ++i) std::this_thread::sleep_for(10ms);
  CHECK(fired >= 2);
  CHECK(blocked == 1);

  release.set_value();
  CHECK(other.NextReport() == "200 200");
  CHECK(other.Finish(5000ms) == 0);
  scheduler.Stop();
}

}  // namespace
}  // namespace snapd
