// Tests of the control socket transport: the real ControlServer on a temporary UNIX socket,
// driven by the real ControlClient and by raw sockets for what a well-behaved client never does.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "control/control_client.h"
#include "control/control_server.h"
#include "core/error.h"

namespace snapd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// A fresh directory under /tmp (short, so socket paths fit in sun_path), removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/snapd-control-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Answers with what it received, so tests can see the request as the handler saw it.
ApiResponse Echo(const ApiRequest& request) {
  nlohmann::json body = {{"method", request.method}, {"target", request.target},
                         {"body", request.body},     {"contentType", request.content_type},
                         {"uid", request.peer.uid},  {"gid", request.peer.gid},
                         {"pid", request.peer.pid}};
  return ApiResponse{200, "application/json", body.dump()};
}

// How an Echo body ends (nlohmann::json sorts keys): a raw reader has all of it once it sees this.
std::string EchoEnd() {
  return "\"uid\":" + std::to_string(getuid()) + "}";
}

ControlServer::Options OptionsFor(const std::string& socket_path) {
  ControlServer::Options options;
  options.socket_path = socket_path;
  return options;
}

int ConnectRaw(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    REQUIRE(n > 0);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until the server closes the connection; nullopt if it is still open after `limit`.
std::optional<std::string> ReadUntilClosed(int fd, std::chrono::milliseconds limit) {
  std::string received;
  const auto deadline = Clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return received;
    received.append(chunk, static_cast<size_t>(n));
  }
}

// Reads until `needle` was received `count` times (or 5 s passed).
std::string ReadUntilContains(int fd, std::string_view needle, int count) {
  std::string received;
  const auto deadline = Clock::now() + 5s;
  auto occurrences = [&] {
    int found = 0;
    for (size_t at = received.find(needle); at != std::string::npos;
         at = received.find(needle, at + 1)) {
      ++found;
    }
    return found;
  };
  while (occurrences() < count && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    received.append(chunk, static_cast<size_t>(n));
  }
  return received;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("control client and server round-trip GET, POST and DELETE", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer server(OptionsFor(path), Echo);
  server.Start();
  ControlClient client(path, 5s);

  ApiResponse got = client.Get("/v1/snapshots?node=a");
  CHECK(got.status == 200);
  CHECK(got.content_type == "application/json");
  auto body = nlohmann::json::parse(got.body);
  CHECK(body["method"] == "GET");
  CHECK(body["target"] == "/v1/snapshots?node=a");
  CHECK(body["body"] == "");
  CHECK(body["uid"] == getuid());
  CHECK(body["gid"] == getgid());
  CHECK(body["pid"] == getpid());

  ApiResponse posted = client.Post("/v1/snapshots", R"({"name":"nightly"})");
  CHECK(posted.status == 200);
  body = nlohmann::json::parse(posted.body);
  CHECK(body["method"] == "POST");
  CHECK(body["body"] == R"({"name":"nightly"})");
  CHECK(body["contentType"] == "application/json");

  // Larger than curl's threshold for "Expect: 100-continue", to show it does not stall.
  const std::string big_body = "\"" + std::string(200 << 10, 'x') + "\"";
  auto start = Clock::now();
  posted = client.Post("/v1/echo", big_body);
  CHECK(Clock::now() - start < 900ms);
  CHECK(nlohmann::json::parse(posted.body)["body"] == big_body);

  ApiResponse deleted = client.Delete("/v1/snapshots/etcd-snapshot-a-1");
  CHECK(deleted.status == 200);
  body = nlohmann::json::parse(deleted.body);
  CHECK(body["method"] == "DELETE");
  CHECK(body["target"] == "/v1/snapshots/etcd-snapshot-a-1");

  CHECK_THROWS_AS(client.Get("v1/no-slash"), Error);
}

TEST_CASE("control server passes the handler's status and content type through", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer server(OptionsFor(path), [](const ApiRequest&) {
    return ApiResponse{202, "text/plain; version=0.0.4", "accepted\n"};
  });
  server.Start();
  ApiResponse got = ControlClient(path, 5s).Get("/metrics");
  CHECK(got.status == 202);
  CHECK(got.content_type == "text/plain; version=0.0.4");
  CHECK(got.body == "accepted\n");
}

TEST_CASE("control server maps handler exceptions to statuses", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer server(OptionsFor(path), [](const ApiRequest& request) -> ApiResponse {
    if (request.target == "/missing") throw Error::NotFound("snapshot nightly-1 not found");
    if (request.target == "/busy") throw Error::Conflict("a save is already running");
    if (request.target == "/bad") throw Error::InvalidInput("name must not be empty");
    if (request.target == "/later") throw Error::Transient("etcd did not answer");
    if (request.target == "/corrupt") throw Error::Corrupt("sha256 mismatch");
    throw std::runtime_error("boom");
  });
  server.Start();
  ControlClient client(path, 5s);

  ApiResponse missing = client.Get("/missing");
  CHECK(missing.status == 404);
  CHECK(missing.content_type == "application/json");
  auto body = nlohmann::json::parse(missing.body);
  CHECK(body["error"] == "snapshot nightly-1 not found");
  CHECK(body["kind"] == "not_found");

  CHECK(client.Get("/busy").status == 409);
  CHECK(nlohmann::json::parse(client.Get("/busy").body)["kind"] == "conflict");
  CHECK(client.Get("/bad").status == 400);
  CHECK(client.Get("/later").status == 503);
  CHECK(client.Get("/corrupt").status == 500);

  ApiResponse internal = client.Get("/other");
  CHECK(internal.status == 500);
  CHECK(nlohmann::json::parse(internal.body)["error"] == "internal error: boom");

  // The server survived all of that.
  CHECK(client.Get("/missing").status == 404);
}

TEST_CASE("control server answers 413 to a body over the limit and 431 to a huge header",
          "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OptionsFor(path);
  options.body_limit = 1024;
  options.header_limit = 2048;
  std::atomic<int> handled{0};
  ControlServer server(options, [&](const ApiRequest& request) {
    ++handled;
    return Echo(request);
  });
  server.Start();
  ControlClient client(path, 5s);

  ApiResponse too_big = client.Post("/v1/snapshots", std::string(64 << 10, 'x'));
  CHECK(too_big.status == 413);
  CHECK(nlohmann::json::parse(too_big.body)["error"].get<std::string>().find("1024") !=
        std::string::npos);

  ApiResponse huge_header = client.Get("/v1/" + std::string(4096, 'a'));
  CHECK(huge_header.status == 431);
  CHECK(nlohmann::json::parse(huge_header.body).contains("error"));

  CHECK(handled == 0);
  CHECK(client.Post("/v1/snapshots", std::string(1000, 'y')).status == 200);
  CHECK(handled == 1);
}

TEST_CASE("control server answers garbage with 400 and closes", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer server(OptionsFor(path), Echo);
  server.Start();

  int fd = ConnectRaw(path);
  SendAll(fd, "HELLO THERE\x01\x02 not http\r\n\r\n");
  std::optional<std::string> reply = ReadUntilClosed(fd, 5000ms);
  close(fd);
  REQUIRE(reply.has_value());
  CHECK(reply->rfind("HTTP/1.1 400 ", 0) == 0);
  auto body_start = reply->find("\r\n\r\n");
  REQUIRE(body_start != std::string::npos);
  CHECK(nlohmann::json::parse(reply->substr(body_start + 4)).contains("error"));
}

TEST_CASE("control server keeps a connection alive across requests", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer server(OptionsFor(path), Echo);
  server.Start();

  int fd = ConnectRaw(path);
  SendAll(fd, "GET /one HTTP/1.1\r\nHost: localhost\r\n\r\n");
  std::string first = ReadUntilContains(fd, EchoEnd(), 1);
  CHECK(first.find("/one") != std::string::npos);
  SendAll(fd, "GET /two HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  std::optional<std::string> second = ReadUntilClosed(fd, 5000ms);
  close(fd);
  REQUIRE(second.has_value());
  CHECK(second->find("HTTP/1.1 200") != std::string::npos);
  CHECK(second->find("/two") != std::string::npos);
}

TEST_CASE("control server honours Expect: 100-continue and HEAD", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer server(OptionsFor(path), Echo);
  server.Start();

  int fd = ConnectRaw(path);
  SendAll(fd,
          "POST /v1/snapshots HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
          "Content-Length: 7\r\nExpect: 100-continue\r\n\r\n");
  std::string interim = ReadUntilContains(fd, "\r\n\r\n", 1);
  CHECK(interim.rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
  SendAll(fd, "{\"a\":1}");
  std::string answer = ReadUntilContains(fd, EchoEnd(), 1);
  CHECK(answer.find(R"("body":"{\"a\":1}")") != std::string::npos);

  SendAll(fd, "HEAD /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  std::optional<std::string> head = ReadUntilClosed(fd, 5000ms);
  close(fd);
  REQUIRE(head.has_value());
  CHECK(head->rfind("HTTP/1.1 200", 0) == 0);
  CHECK(head->find("Content-Length: ") != std::string::npos);
  CHECK(head->substr(head->size() - 4) == "\r\n\r\n");  // header only, no body
}

TEST_CASE("control server drops a silent client after the read timeout, serving others",
          "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OptionsFor(path);
  options.read_timeout = 1s;
  ControlServer server(options, Echo);
  server.Start();

  auto start = Clock::now();
  int silent = ConnectRaw(path);
  CHECK(ControlClient(path, 5s).Get("/v1/status").status == 200);
  CHECK(Clock::now() - start < 800ms);

  std::optional<std::string> reply = ReadUntilClosed(silent, 5000ms);
  auto waited = Clock::now() - start;
  close(silent);
  REQUIRE(reply.has_value());  // closed by the server, not still open
  CHECK(reply->empty());
  CHECK(waited >= 900ms);
  CHECK(waited < 3s);
}

TEST_CASE("a slow handler does not hold up other requests", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer server(OptionsFor(path), [](const ApiRequest& request) {
    if (request.target == "/slow") std::this_thread::sleep_for(1s);
    return Echo(request);
  });
  server.Start();

  auto start = Clock::now();
  auto slow = std::async(std::launch::async, [&] { return ControlClient(path, 5s).Get("/slow"); });
  std::this_thread::sleep_for(100ms);
  CHECK(ControlClient(path, 5s).Get("/fast").status == 200);
  CHECK(Clock::now() - start < 900ms);
  CHECK(slow.wait_for(0s) != std::future_status::ready);
  CHECK(slow.get().status == 200);
  CHECK(Clock::now() - start >= 1s);
}

TEST_CASE("control server answers 503 to connections over the limit", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer::Options options = OptionsFor(path);
  options.max_connections = 1;
  ControlServer server(options, Echo);
  server.Start();

  int holder = ConnectRaw(path);
  ApiResponse refused = ControlClient(path, 5s).Get("/v1/status");
  CHECK(refused.status == 503);
  CHECK(nlohmann::json::parse(refused.body).contains("error"));
  close(holder);

  // Once the slot is free again, requests are served.
  ApiResponse served;
  for (int attempt = 0; attempt < 50; ++attempt) {
    served = ControlClient(path, 5s).Get("/v1/status");
    if (served.status == 200) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(served.status == 200);
}

TEST_CASE("control server replaces a stale socket file", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  {
    // A socket bound and closed without unlinking, as after a crash.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    close(fd);
  }
  REQUIRE(fs::is_socket(path));
  ControlServer server(OptionsFor(path), Echo);
  server.Start();
  CHECK(ControlClient(path, 5s).Get("/healthz").status == 200);
}

TEST_CASE("control server refuses a path that is not a socket and leaves it alone", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  std::ofstream(path) << "precious";
  ControlServer server(OptionsFor(path), Echo);
  try {
    server.Start();
    FAIL("Start succeeded on a regular file");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  CHECK(content.str() == "precious");
  CHECK(fs::is_regular_file(path));
}

TEST_CASE("a second control server on a live socket is a conflict", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer first(OptionsFor(path), Echo);
  first.Start();
  ControlServer second(OptionsFor(path), Echo);
  try {
    second.Start();
    FAIL("second server started on a live socket");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConflict);
    CHECK(std::string(e.what()) == "control socket " + path + " is in use by another process");
  }
  second.Stop();
  // The first server still owns and serves its socket.
  CHECK(ControlClient(path, 5s).Get("/healthz").status == 200);
}

TEST_CASE("control socket gets its mode whatever the umask, and its directory is made",
          "[control]") {
  TempDir dir;
  const std::string path = dir.Path("run/k3s-snapd/snapd.sock");
  mode_t old_umask = umask(0);
  ControlServer server(OptionsFor(path), Echo);
  try {
    server.Start();
  } catch (...) {
    umask(old_umask);
    throw;
  }
  umask(old_umask);
  CHECK(ModeOf(path) == 0660);
  CHECK(ModeOf(dir.Path("run/k3s-snapd")) == 0755);
  CHECK(ModeOf(dir.Path("run")) == 0755);

  const std::string private_path = dir.Path("private.sock");
  ControlServer::Options options = OptionsFor(private_path);
  options.socket_mode = 0600;
  options.socket_group = getgid();
  old_umask = umask(0077);
  ControlServer private_server(options, Echo);
  private_server.Start();
  umask(old_umask);
  CHECK(ModeOf(private_path) == 0600);
  struct stat st {};
  REQUIRE(stat(private_path.c_str(), &st) == 0);
  CHECK(st.st_gid == getgid());
}

TEST_CASE("control client reports a missing or dead daemon clearly", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  try {
    ControlClient(path, 5s).Get("/v1/status");
    FAIL("request to a missing socket succeeded");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kTransient);
    CHECK(std::string(e.what()) ==
          "cannot reach k3s-snapd at " + path + ": no such socket (is the daemon running?)");
  }

  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    close(fd);
  }
  try {
    ControlClient(path, 5s).Get("/v1/status");
    FAIL("request to a dead socket succeeded");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kTransient);
    CHECK(std::string(e.what()) ==
          "cannot reach k3s-snapd at " + path + ": connection refused (is the daemon running?)");
  }
}

TEST_CASE("control server stop answers requests in flight, then removes the socket", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  std::promise<void> entered;
  ControlServer server(OptionsFor(path), [&](const ApiRequest& request) {
    entered.set_value();
    std::this_thread::sleep_for(500ms);
    return Echo(request);
  });
  server.Start();
  int idle = ConnectRaw(path);

  auto in_flight =
      std::async(std::launch::async, [&] { return ControlClient(path, 5s).Get("/v1/snapshots"); });
  entered.get_future().wait();
  server.Stop();
  CHECK(!fs::exists(path));
  ApiResponse answered = in_flight.get();
  CHECK(answered.status == 200);
  CHECK(nlohmann::json::parse(answered.body)["target"] == "/v1/snapshots");

  // The idle connection was closed rather than left hanging.
  std::optional<std::string> idle_reply = ReadUntilClosed(idle, 1000ms);
  close(idle);
  CHECK(idle_reply.has_value());

  server.Stop();  // idempotent
  CHECK_THROWS_AS(ControlClient(path, 5s).Get("/healthz"), Error);
}

TEST_CASE("a handler may stop the server it runs in", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer* self = nullptr;
  ControlServer server(OptionsFor(path), [&](const ApiRequest& request) {
    self->Stop();
    return Echo(request);
  });
  self = &server;
  server.Start();
  ApiResponse answered = ControlClient(path, 5s).Post("/v1/shutdown", "{}");
  CHECK(answered.status == 200);
  CHECK(!fs::exists(path));
  server.Stop();  // joins the threads the handler could not join itself
}

// --- The metrics-only TCP listener.

// Connects to "127.0.0.1:PORT"; -1 when refused.
int ConnectTcp(const std::string& endpoint) {
  size_t colon = endpoint.rfind(':');
  REQUIRE(colon != std::string::npos);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  REQUIRE(inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &address.sin_addr) == 1);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct RawAnswer {
  int status = 0;
  std::string body;
};

// One request over a fresh TCP connection, read until the server closes it.
RawAnswer TcpRequest(const std::string& endpoint, const std::string& method,
                     const std::string& target, const std::string& body = "") {
  int fd = ConnectTcp(endpoint);
  REQUIRE(fd >= 0);
  SendAll(fd, method + " " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" +
                  "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  std::optional<std::string> reply = ReadUntilClosed(fd, 5000ms);
  close(fd);
  REQUIRE(reply.has_value());
  REQUIRE(reply->starts_with("HTTP/1.1 "));
  RawAnswer answer;
  answer.status = std::stoi(reply->substr(9, 3));
  size_t end_of_header = reply->find("\r\n\r\n");
  REQUIRE(end_of_header != std::string::npos);
  answer.body = reply->substr(end_of_header + 4);
  return answer;
}

ControlServer::Options WithMetricsAddress(const std::string& socket_path,
                                          const std::string& address) {
  ControlServer::Options options = OptionsFor(socket_path);
  options.metrics_address = address;
  return options;
}

TEST_CASE("the metrics address serves only GET /metrics and /healthz, as nobody", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  std::atomic<int> handled{0};
  ControlServer server(WithMetricsAddress(path, "127.0.0.1:0"), [&](const ApiRequest& request) {
    ++handled;
    return Echo(request);
  });
  CHECK(server.MetricsEndpoint().empty());
  server.Start();
  const std::string endpoint = server.MetricsEndpoint();
  REQUIRE(endpoint.starts_with("127.0.0.1:"));
  CHECK(endpoint != "127.0.0.1:0");

  RawAnswer metrics = TcpRequest(endpoint, "GET", "/metrics");
  CHECK(metrics.status == 200);
  auto body = nlohmann::json::parse(metrics.body);
  CHECK(body["target"] == "/metrics");
  // Never root's ids: whatever the handler decides by peer, a TCP client is nobody.
  CHECK(body["uid"] == static_cast<uid_t>(-1));
  CHECK(body["gid"] == static_cast<gid_t>(-1));
  CHECK(TcpRequest(endpoint, "GET", "/healthz").status == 200);
  CHECK(TcpRequest(endpoint, "GET", "/metrics?name[]=x").status == 200);
  CHECK(handled == 3);

  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/snapshots"},
           {"DELETE", "/v1/snapshots/etcd-snapshot-a-1"},
           {"POST", "/v1/prune"},
           {"GET", "/v1/status"},
           {"GET", "/v1/snapshots"},
           {"GET", "/metrics/"},
           {"GET", "//metrics"},
           {"GET", "/%6detrics"},
           {"GET", "/v1/../metrics"},
           {"GET", "http://test/v1/status"},
       }) {
    CAPTURE(method, target);
    RawAnswer refused = TcpRequest(endpoint, method, target, method == "POST" ? "{}" : "");
    CHECK(refused.status == 404);
    CHECK(nlohmann::json::parse(refused.body)["error"] ==
          "only GET /metrics and GET /healthz are served over TCP");
  }
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD"}) {
    CAPTURE(method);
    RawAnswer refused = TcpRequest(endpoint, method, "/metrics");
    CHECK(refused.status == 405);
  }
  CHECK(handled == 3);

  // The UNIX socket still serves everything.
  ApiResponse posted = ControlClient(path, 5s).Post("/v1/snapshots", "{}");
  CHECK(posted.status == 200);
  CHECK(nlohmann::json::parse(posted.body)["uid"] == getuid());
  CHECK(handled == 4);

  server.Stop();
  CHECK(server.MetricsEndpoint().empty());
  CHECK(ConnectTcp(endpoint) == -1);
}

TEST_CASE("a metrics address in use is a conflict and leaves no socket behind", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  ControlServer first(WithMetricsAddress(dir.Path("first.sock"), "127.0.0.1:0"), Echo);
  first.Start();
  ControlServer second(WithMetricsAddress(path, first.MetricsEndpoint()), Echo);
  try {
    second.Start();
    FAIL("Start succeeded on a metrics address in use");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConflict);
    CHECK(std::string(e.what()).find(first.MetricsEndpoint()) != std::string::npos);
  }
  CHECK(!fs::exists(path));
  // The first server is unharmed.
  CHECK(TcpRequest(first.MetricsEndpoint(), "GET", "/healthz").status == 200);
}

TEST_CASE("malformed metrics addresses are refused before anything is bound", "[control]") {
  TempDir dir;
  const std::string path = dir.Path("snapd.sock");
  for (const char* address :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "127.0.0.1:-1", "::1:9469",
        "[::1:9469", "no-such-host.invalid:9469"}) {
    CAPTURE(address);
    ControlServer server(WithMetricsAddress(path, address), Echo);
    try {
      server.Start();
      FAIL("Start accepted a malformed metrics address");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInvalidInput);
      CHECK(std::string(e.what()).find(address) != std::string::npos);
    }
    CHECK(!fs::exists(path));
  }
}

TEST_CASE("a metrics address without host listens on every IPv4 address", "[control]") {
  TempDir dir;
  ControlServer server(WithMetricsAddress(dir.Path("snapd.sock"), ":0"), Echo);
  server.Start();
  const std::string endpoint = server.MetricsEndpoint();
  REQUIRE(endpoint.starts_with("0.0.0.0:"));
  CHECK(TcpRequest("127.0.0.1:" + endpoint.substr(8), "GET", "/healthz").status == 200);
}

}  // namespace
}  // namespace snapd
