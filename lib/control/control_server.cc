// The control API's HTTP/1.1 server: Beast over an Asio UNIX-socket acceptor, and optionally a
// TCP one serving only metrics. One I/O thread accepts, reads, judges, writes and times out;
// handlers run on two small pools, root's and everyone else's, so a slow one stalls nobody and
// no other user's stalls root.
#include "control/control_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <filesystem>
#include <future>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "control/api_routes.h"
#include "control/peer_credentials.h"
#include "core/error.h"

namespace snapd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;
using Tcp = asio::ip::tcp;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// After an error answer, how long and how much of the rest of the request is read and dropped,
// so the client sees the answer instead of a reset while it is still sending.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kLingerBytes = 8 << 20;

std::string ErrorBody(std::string_view message) {
  nlohmann::json body = {{"error", message}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorBody(const Error& error) {
  nlohmann::json body = {{"error", error.what()}, {"kind", ErrorKindName(error.kind())}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int StatusForKind(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput:
      return 400;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kPermissionDenied:
      return 403;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kTransient:
    case ErrorKind::kCancelled:
      return 503;
    case ErrorKind::kPermanent:
    case ErrorKind::kCorrupt:
      return 500;
  }
  return 500;
}

// Runs the handler; whatever it throws becomes an answer, never an escaping exception.
ApiResponse CallHandler(const ApiHandler& handler, const ApiRequest& request) noexcept {
  try {
    try {
      return handler(request);
    } catch (const Error& e) {
      return ApiResponse{StatusForKind(e.kind()), "application/json", ErrorBody(e)};
    } catch (const std::exception& e) {
      spdlog::error("control API: {} {} failed: {}", request.method, request.target, e.what());
      return ApiResponse{500, "application/json",
                         ErrorBody(std::string("internal error: ") + e.what())};
    } catch (...) {
      spdlog::error("control API: {} {} failed with a non-standard exception", request.method,
                    request.target);
      return ApiResponse{500, "application/json", ErrorBody("internal error: unknown exception")};
    }
  } catch (...) {  // building the error answer itself failed (out of memory)
    return ApiResponse{500, "application/json", R"({"error":"internal error"})"};
  }
}

http::response<http::string_body> MakeResponse(ApiResponse answer, unsigned version,
                                               bool keep_alive) {
  // 1xx would confuse the client about the message framing; below 200 is a handler bug.
  if (answer.status < 200 || answer.status > 599) {
    spdlog::error("control API: handler answered invalid status {}", answer.status);
    answer = ApiResponse{500, "application/json", ErrorBody("internal error: invalid status")};
  }
  http::response<http::string_body> response{static_cast<http::status>(answer.status), version};
  // These statuses must not carry a body (Beast refuses to frame one).
  if (answer.status == 204 || answer.status == 304) answer.body.clear();
  if (!answer.body.empty() && !answer.content_type.empty()) {
    response.set(http::field::content_type, answer.content_type);
  }
  response.body() = std::move(answer.body);
  response.keep_alive(keep_alive);
  response.prepare_payload();
  return response;
}

http::response<http::string_body> MakeErrorResponse(http::status status, std::string_view message) {
  http::response<http::string_body> response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = ErrorBody(message);
  response.keep_alive(false);
  response.prepare_payload();
  return response;
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_method).category();
}

// Creates the missing directories above the socket with mode 0755 whatever the umask.
void CreateParentDirectories(const std::filesystem::path& socket_path) {
  std::vector<std::filesystem::path> missing;
  for (auto dir = socket_path.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    struct stat st {};
    if (stat(dir.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        throw Error::InvalidInput("control socket directory " + dir.string() +
                                  " exists and is not a directory");
      }
      break;
    }
    if (errno != ENOENT) ThrowSystemError("control socket directory " + dir.string(), errno);
    missing.push_back(dir);
    if (dir == dir.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (mkdir(it->c_str(), 0755) != 0) {
      if (errno == EEXIST) continue;
      ThrowSystemError("creating control socket directory " + it->string(), errno);
    }
    if (chmod(it->c_str(), 0755) != 0) {
      ThrowSystemError("setting mode of control socket directory " + it->string(), errno);
    }
  }
}

// Makes way for binding `path`: removes a socket file nobody listens on, refuses a live one
// and anything that is not a socket.
void RemoveStaleSocket(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    ThrowSystemError("control socket path " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw Error::InvalidInput("control socket path " + path +
                              " exists and is not a socket; refusing to replace it");
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowSystemError("creating a socket to probe " + path, errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  int connect_errno = errno;
  close(fd);
  // EAGAIN: a live server whose backlog is full.
  if (rc == 0 || connect_errno == EAGAIN) {
    throw Error::Conflict("control socket " + path + " is in use by another process");
  }
  if (connect_errno != ECONNREFUSED)
    ThrowSystemError("probing control socket " + path, connect_errno);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    ThrowSystemError("removing stale control socket " + path, errno);
  }
}

// Splits "host:port", "[v6]:port" or ":port" (every IPv4 address); throws kInvalidInput.
std::pair<std::string, uint16_t> SplitHostPort(const std::string& address) {
  auto bad = [&](const std::string& why) {
    return Error::InvalidInput("metrics address \"" + address + "\" " + why +
                               " (expected host:port, e.g. 127.0.0.1:9469)");
  };
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw bad("has no port");
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) throw bad("has an unclosed [");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    throw bad("needs [ ] around an IPv6 address");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    throw bad("has a bad port");
  }
  return {host.empty() ? "0.0.0.0" : host, static_cast<uint16_t>(port)};
}

// Only these are served over TCP: the mutating API must never be reachable from the network.
std::optional<ApiResponse> RefuseOverTcp(const ApiRequest& request) {
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  if (path != "/metrics" && path != "/healthz") {
    return ApiResponse{404, "application/json",
                       ErrorBody("only GET /metrics and GET /healthz are served over TCP")};
  }
  if (request.method != "GET") {
    return ApiResponse{
        405, "application/json",
        ErrorBody(request.method + " is not allowed on " + std::string(path) + " (use GET)")};
  }
  return std::nullopt;
}

// One accepted connection of either listener.
struct Connection {
  virtual ~Connection() = default;
  virtual void CloseStream() = 0;
  // Handling a request or writing its answer: Stop lets it finish instead of closing it.
  bool busy = false;
};

// Logs refusals at warning level, at most kRefusalsLogged per kRefusalLogWindow, so that a
// client asking again and again cannot flood the journal; the rest are counted. I/O thread only.
class RefusalLog {
 public:
  void Refused(const PeerCredentials& peer, const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= kRefusalLogWindow) {
      if (suppressed_ > 0) {
        spdlog::warn("control socket: {} more requests refused and not logged", suppressed_);
      }
      window_start_ = now;
      logged_ = 0;
      suppressed_ = 0;
    }
    if (logged_ >= kRefusalsLogged) {
      ++suppressed_;
      return;
    }
    ++logged_;
    spdlog::warn("control socket: refused a request of uid {} gid {} pid {}: {}", peer.uid,
                 peer.gid, peer.pid, why);
  }

 private:
  static constexpr std::chrono::seconds kRefusalLogWindow{10};
  static constexpr int kRefusalsLogged = 20;
  std::chrono::steady_clock::time_point window_start_{};
  int logged_ = 0;
  uint64_t suppressed_ = 0;
};

template <class Protocol>
struct BasicConnection final : Connection {
  explicit BasicConnection(typename Protocol::socket socket) : stream(std::move(socket)) {}
  void CloseStream() override { stream.close(); }
  beast::basic_stream<Protocol> stream;
};

std::optional<PeerCredentials> PeerOf(Local::socket& socket) {
  return ReadPeerCredentials(socket.native_handle());
}

// A TCP peer is nobody in particular: ids no account has, never root's 0.
std::optional<PeerCredentials> PeerOf(Tcp::socket&) {
  return PeerCredentials{0, static_cast<uid_t>(-1), static_cast<gid_t>(-1), {}};
}

// What one acceptor serves, and its connections (touched only on the I/O thread).
struct Listener {
  std::string name;           // for logs: "control socket PATH", "metrics address ADDRESS"
  bool metrics_only = false;  // TCP: only GET /metrics and /healthz reach the handler
  std::unordered_set<Connection*> connections;
  std::unordered_set<Connection*> refused;
  // Open connections of peers other than root and the server's own user, by uid (UNIX only).
  std::unordered_map<uid_t, size_t> per_user;
  size_t unprivileged = 0;
};

// Takes a connection out of its set, and out of its user's count, when its coroutine ends.
// Accept puts it in, so the counts are right even before the coroutine first runs.
class LeaveSetOnExit {
 public:
  LeaveSetOnExit(Listener& listener, std::unordered_set<Connection*>& set, Connection* connection,
                 std::optional<uid_t> counted_user)
      : listener_(listener), set_(set), connection_(connection), counted_user_(counted_user) {}
  ~LeaveSetOnExit() {
    set_.erase(connection_);
    if (!counted_user_) return;
    --listener_.unprivileged;
    auto it = listener_.per_user.find(*counted_user_);
    if (--it->second == 0) listener_.per_user.erase(it);
  }
  LeaveSetOnExit(const LeaveSetOnExit&) = delete;
  LeaveSetOnExit& operator=(const LeaveSetOnExit&) = delete;

 private:
  Listener& listener_;
  std::unordered_set<Connection*>& set_;
  Connection* connection_;
  std::optional<uid_t> counted_user_;
};

void LogCoroutineFailure(std::exception_ptr failure) {
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    spdlog::error("control socket: connection failed: {}", e.what());
  } catch (...) {
    spdlog::error("control socket: connection failed with a non-standard exception");
  }
}

}  // namespace

class ControlServer::Impl {
 public:
  Impl(Options options, ApiHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {
    options_.handler_threads = std::max(1u, options_.handler_threads);
    options_.shared_handler_threads = std::max(1u, options_.shared_handler_threads);
    options_.max_connections = std::max<size_t>(1, options_.max_connections);
    options_.connections_per_user = std::max<size_t>(1, options_.connections_per_user);
    options_.reserved_connections =
        std::min(options_.reserved_connections, options_.max_connections - 1);
    if (options_.access) policy_ = std::make_shared<const AccessPolicy>(*options_.access);
  }

  ~Impl() { Stop(); }

  void Start();
  void Stop();
  void SetAccessPolicy(AccessPolicy policy);
  std::string MetricsEndpoint() const;

 private:
  enum class State { kIdle, kRunning, kStopping, kStopped };

  void Bind();
  void BindTcp();
  void RemoveSocketFile();
  void CloseOnIoThread();
  template <class Acceptor>
  asio::awaitable<void> Accept(Acceptor& acceptor, Listener& listener);
  // Why a new connection of `peer` gets no slot; "" when it gets one.
  std::string ConnectionRefusal(const Listener& listener, const PeerCredentials& peer,
                                bool privileged) const;
  template <class Protocol>
  asio::awaitable<void> Serve(std::shared_ptr<BasicConnection<Protocol>> connection,
                              Listener& listener, PeerCredentials peer, bool privileged,
                              std::optional<uid_t> counted_user);
  template <class Protocol>
  asio::awaitable<void> Refuse(std::shared_ptr<BasicConnection<Protocol>> connection,
                               Listener& listener, std::string message);
  std::shared_ptr<const AccessPolicy> CurrentPolicy() const;
  // The answer to a request refused on its header alone (over TCP: anything but metrics and
  // health; on the socket: what the access policy refuses); nullopt to serve it.
  std::optional<ApiResponse> Refusal(const Listener& listener, const http::request_header<>& header,
                                     const PeerCredentials& peer);
  template <class Protocol>
  asio::awaitable<void> AnswerReadError(BasicConnection<Protocol>& connection,
                                        const beast::error_code& ec);
  template <class Protocol>
  asio::awaitable<void> Linger(BasicConnection<Protocol>& connection);
  template <class Protocol>
  void Close(BasicConnection<Protocol>& connection);

  Options options_;
  ApiHandler handler_;
  const uid_t own_uid_ = geteuid();
  mutable std::mutex policy_mutex_;
  std::shared_ptr<const AccessPolicy> policy_;  // null: no policy

  // Declared before the objects using it so it is destroyed after them.
  asio::io_context io_{1};
  std::optional<Local::acceptor> acceptor_;
  std::optional<Tcp::acceptor> tcp_acceptor_;
  std::optional<asio::thread_pool> pool_;         // handlers of root and our own user
  std::optional<asio::thread_pool> shared_pool_;  // everyone else's
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread io_thread_;

  // Touched only on the I/O thread.
  Listener local_;
  Listener tcp_;
  bool stopping_ = false;
  RefusalLog refusal_log_;
  std::string metrics_endpoint_;  // the TCP address bound, set by Start

  // The socket file we bound, so Stop never removes a file someone else put there since.
  dev_t socket_device_ = 0;
  ino_t socket_inode_ = 0;

  mutable std::mutex state_mutex_;
  State state_ = State::kIdle;
  std::mutex join_mutex_;  // held while joining; never taken on the server's own threads
  bool joined_ = false;
};

void ControlServer::Impl::Start() {
  std::lock_guard lock(state_mutex_);
  const std::string& path = options_.socket_path;
  if (state_ != State::kIdle) {
    throw Error::Conflict("control server on " + path + " was already started or stopped");
  }
  if (path.empty()) throw Error::InvalidInput("control socket path is empty");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw Error::InvalidInput("control socket path " + path + " is longer than " +
                              std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  }
  CreateParentDirectories(path);
  RemoveStaleSocket(path);
  local_.name = "control socket " + path;
  if (!options_.metrics_address.empty()) BindTcp();
  try {
    Bind();
  } catch (...) {
    if (tcp_acceptor_) {
      beast::error_code ignored;
      tcp_acceptor_->close(ignored);
    }
    throw;
  }

  pool_.emplace(options_.handler_threads);
  shared_pool_.emplace(options_.shared_handler_threads);
  work_.emplace(io_.get_executor());
  asio::co_spawn(io_, Accept(*acceptor_, local_), LogCoroutineFailure);
  if (tcp_acceptor_) asio::co_spawn(io_, Accept(*tcp_acceptor_, tcp_), LogCoroutineFailure);
  io_thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("control socket: I/O loop failed: {}", e.what());
      }
    }
  });
  state_ = State::kRunning;
}

void ControlServer::Impl::Bind() {
  const std::string& path = options_.socket_path;
  boost::system::error_code ec;
  acceptor_.emplace(io_);
  acceptor_->open(Local(), ec);
  if (ec) throw Error::Permanent("creating control socket " + path + ": " + ec.message());
  // bind() creates the file with this mode minus the umask, so it never starts out more open
  // than owner-only; the full mode is set once the group is right.
  (void)fchmod(acceptor_->native_handle(), options_.socket_mode & 0700);
  acceptor_->bind(Local::endpoint(path), ec);
  if (ec == asio::error::address_in_use) {
    throw Error::Conflict("control socket " + path + " is in use by another process");
  }
  if (ec) throw Error::Permanent("binding control socket " + path + ": " + ec.message());
  try {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) ThrowSystemError("control socket " + path, errno);
    socket_device_ = st.st_dev;
    socket_inode_ = st.st_ino;
    if (options_.socket_group != static_cast<gid_t>(-1) &&
        chown(path.c_str(), static_cast<uid_t>(-1), options_.socket_group) != 0) {
      ThrowSystemError("setting group of control socket " + path + " to " +
                           std::to_string(options_.socket_group),
                       errno);
    }
    if (chmod(path.c_str(), options_.socket_mode) != 0) {
      ThrowSystemError("setting mode of control socket " + path, errno);
    }
    acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw Error::Permanent("listening on control socket " + path + ": " + ec.message());
  } catch (...) {
    RemoveSocketFile();
    acceptor_->close(ec);
    throw;
  }
}

void ControlServer::Impl::BindTcp() {
  const std::string& address = options_.metrics_address;
  auto [host, port] = SplitHostPort(address);
  tcp_.name = "metrics address " + address;
  tcp_.metrics_only = true;
  boost::system::error_code ec;
  Tcp::resolver resolver(io_);
  auto results = resolver.resolve(host, std::to_string(port),
                                  Tcp::resolver::passive | Tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    throw Error::InvalidInput("metrics address " + address + ": cannot resolve \"" + host +
                              "\": " + (ec ? ec.message() : "no address"));
  }
  Tcp::endpoint endpoint = results.begin()->endpoint();
  tcp_acceptor_.emplace(io_);
  try {
    tcp_acceptor_->open(endpoint.protocol(), ec);
    if (ec) throw Error::Permanent("metrics address " + address + ": " + ec.message());
    // A restart must not wait for the last run's connections in TIME_WAIT.
    tcp_acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    tcp_acceptor_->bind(endpoint, ec);
    if (ec == asio::error::address_in_use) {
      throw Error::Conflict("metrics address " + address + " is in use by another process");
    }
    if (ec) throw Error::Permanent("binding metrics address " + address + ": " + ec.message());
    tcp_acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw Error::Permanent("listening on metrics address " + address + ": " + ec.message());
    Tcp::endpoint bound = tcp_acceptor_->local_endpoint(ec);
    if (ec) throw Error::Permanent("metrics address " + address + ": " + ec.message());
    std::string ip = bound.address().to_string();
    if (bound.address().is_v6()) ip = "[" + ip + "]";
    metrics_endpoint_ = ip + ":" + std::to_string(bound.port());
  } catch (...) {
    tcp_acceptor_->close(ec);
    tcp_acceptor_.reset();
    throw;
  }
}

void ControlServer::Impl::SetAccessPolicy(AccessPolicy policy) {
  auto shared = std::make_shared<const AccessPolicy>(std::move(policy));
  std::lock_guard lock(policy_mutex_);
  policy_ = std::move(shared);
}

std::shared_ptr<const AccessPolicy> ControlServer::Impl::CurrentPolicy() const {
  std::lock_guard lock(policy_mutex_);
  return policy_;
}

std::string ControlServer::Impl::MetricsEndpoint() const {
  std::lock_guard lock(state_mutex_);
  return state_ == State::kRunning ? metrics_endpoint_ : "";
}

void ControlServer::Impl::RemoveSocketFile() {
  const std::string& path = options_.socket_path;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;
  if (st.st_dev != socket_device_ || st.st_ino != socket_inode_) return;
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("control socket: cannot remove {}: {}", path, std::strerror(errno));
  }
}

void ControlServer::Impl::Stop() {
  bool begin_close = false;
  {
    std::lock_guard lock(state_mutex_);
    if (!pool_) {  // never started, or Start failed: no threads to stop
      state_ = State::kStopped;
      return;
    }
    if (state_ == State::kRunning) {
      state_ = State::kStopping;
      begin_close = true;
    }
  }
  const bool on_io_thread = io_.get_executor().running_in_this_thread();
  const bool on_own_thread = on_io_thread || pool_->get_executor().running_in_this_thread() ||
                             shared_pool_->get_executor().running_in_this_thread();
  if (begin_close) {
    if (on_io_thread) {
      CloseOnIoThread();
    } else {
      std::promise<void> closed;
      asio::post(io_, [this, &closed] {
        CloseOnIoThread();
        closed.set_value();
      });
      closed.get_future().wait();
    }
  }
  if (on_own_thread) return;  // a thread cannot join itself: the next Stop from outside will

  std::lock_guard join_lock(join_mutex_);
  if (joined_) return;
  // Handlers in flight finish; their answers are then written by the I/O thread.
  pool_->join();
  shared_pool_->join();
  work_.reset();
  io_thread_.join();  // returns once every connection has finished
  joined_ = true;
  std::lock_guard lock(state_mutex_);
  state_ = State::kStopped;
}

void ControlServer::Impl::CloseOnIoThread() {
  stopping_ = true;
  beast::error_code ignored;
  acceptor_->close(ignored);
  if (tcp_acceptor_) tcp_acceptor_->close(ignored);
  RemoveSocketFile();
  for (Listener* listener : {&local_, &tcp_}) {
    for (Connection* connection : listener->connections) {
      if (!connection->busy) connection->CloseStream();
    }
    for (Connection* connection : listener->refused) connection->CloseStream();
  }
}

template <class Acceptor>
asio::awaitable<void> ControlServer::Impl::Accept(Acceptor& acceptor, Listener& listener) {
  using Protocol = typename Acceptor::protocol_type;
  asio::steady_timer backoff(io_);
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (stopping_) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // Out of descriptors and the like: wait a little instead of spinning.
      spdlog::warn("{}: accept failed: {}", listener.name, ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    auto connection = std::make_shared<BasicConnection<Protocol>>(std::move(socket));
    std::optional<PeerCredentials> peer = PeerOf(connection->stream.socket());
    if (!peer) {
      // Without knowing who asks, nobody could decide what they may do.
      spdlog::warn("{}: cannot read peer credentials, closing", listener.name);
      connection->stream.close();
      continue;
    }
    // TCP peers are nobody in particular: only the overall limit applies to them.
    const bool per_user_limits = !listener.metrics_only;
    const bool privileged = per_user_limits && (peer->uid == 0 || peer->uid == own_uid_);
    std::string refusal = ConnectionRefusal(listener, *peer, privileged);
    if (refusal.empty()) {
      listener.connections.insert(connection.get());
      std::optional<uid_t> counted_user;
      if (per_user_limits && !privileged) {
        counted_user = peer->uid;
        ++listener.per_user[peer->uid];
        ++listener.unprivileged;
      }
      asio::co_spawn(
          io_, Serve(std::move(connection), listener, std::move(*peer), privileged, counted_user),
          LogCoroutineFailure);
    } else if (listener.refused.size() < options_.max_connections) {
      listener.refused.insert(connection.get());
      asio::co_spawn(io_, Refuse(std::move(connection), listener, std::move(refusal)),
                     LogCoroutineFailure);
    } else {
      connection->stream.close();
    }
  }
}

std::string ControlServer::Impl::ConnectionRefusal(const Listener& listener,
                                                   const PeerCredentials& peer,
                                                   bool privileged) const {
  if (listener.connections.size() >= options_.max_connections) {
    return "too many connections to the " + listener.name + " (" +
           std::to_string(options_.max_connections) + ")";
  }
  if (privileged || listener.metrics_only) return "";
  const size_t shared = options_.max_connections - options_.reserved_connections;
  if (listener.unprivileged >= shared) {
    return "too many connections to the " + listener.name + " from users other than root (" +
           std::to_string(shared) + ")";
  }
  auto it = listener.per_user.find(peer.uid);
  if (it != listener.per_user.end() && it->second >= options_.connections_per_user) {
    return "too many connections to the " + listener.name + " from uid " +
           std::to_string(peer.uid) + " (" + std::to_string(options_.connections_per_user) + ")";
  }
  return "";
}

template <class Protocol>
asio::awaitable<void> ControlServer::Impl::Serve(
    std::shared_ptr<BasicConnection<Protocol>> connection, Listener& listener, PeerCredentials peer,
    bool privileged, std::optional<uid_t> counted_user) {
  LeaveSetOnExit leave(listener, listener.connections, connection.get(), counted_user);
  beast::basic_stream<Protocol>& stream = connection->stream;
  asio::thread_pool& pool = privileged ? *pool_ : *shared_pool_;
  beast::flat_buffer buffer;
  while (!stopping_) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(options_.header_limit, std::numeric_limits<std::uint32_t>::max())));
    parser.body_limit(options_.body_limit);

    stream.expires_after(options_.read_timeout);
    auto [ec, unused] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
    // Judged on the header alone, so a refused peer never makes us read or keep its body.
    std::optional<ApiResponse> refused;
    if (!ec) refused = Refusal(listener, parser.get(), peer);
    if (!ec && !refused && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
        stream.expires_after(options_.write_timeout);
        std::tie(ec, unused) = co_await http::async_write(stream, go_on, kNoThrow);
        stream.expires_after(options_.read_timeout);
      }
      if (!ec) std::tie(ec, unused) = co_await http::async_read(stream, buffer, parser, kNoThrow);
    }
    if (ec) {
      co_await AnswerReadError(*connection, ec);
      break;
    }
    if (stopping_) break;

    connection->busy = true;
    stream.expires_never();
    // The unread body of a refused request is drained after the answer, then we close.
    const bool body_unread = refused && !parser.is_done();
    http::request<http::string_body> message = parser.release();
    ApiResponse answer;
    if (refused) {
      answer = std::move(*refused);
    } else {
      ApiRequest request{std::string(message.method_string()), std::string(message.target()),
                         std::move(message.body()), std::string(message[http::field::content_type]),
                         peer};
      answer = co_await asio::co_spawn(
          pool,
          // Captures only pointers: GCC 12 mis-moves a coroutine lambda's non-trivial captures.
          // `request` lives in this frame until the handler's answer is back.
          [this, &request]() -> asio::awaitable<ApiResponse> {
            co_return CallHandler(handler_, request);
          },
          asio::use_awaitable);
    }

    auto response = MakeResponse(std::move(answer), message.version(),
                                 message.keep_alive() && !stopping_ && !body_unread);
    stream.expires_after(options_.write_timeout);
    if (message.method() == http::verb::head) {
      // Content-Length as for GET, but no body may follow.
      http::response_serializer<http::string_body> serializer{response};
      std::tie(ec, unused) = co_await http::async_write_header(stream, serializer, kNoThrow);
    } else {
      std::tie(ec, unused) = co_await http::async_write(stream, response, kNoThrow);
    }
    connection->busy = false;
    if (!ec && body_unread) co_await Linger(*connection);
    if (ec || !response.keep_alive()) break;
  }
  Close(*connection);
}

std::optional<ApiResponse> ControlServer::Impl::Refusal(const Listener& listener,
                                                        const http::request_header<>& header,
                                                        const PeerCredentials& peer) {
  ApiRequest request{std::string(header.method_string()), std::string(header.target()), "", "",
                     peer};
  if (listener.metrics_only) return RefuseOverTcp(request);
  std::shared_ptr<const AccessPolicy> policy = CurrentPolicy();
  if (!policy) return std::nullopt;
  ApiOperation operation = ApiOperation::kNoSuchPath;
  try {
    operation = MatchRoute(request.method, request.target).operation;
  } catch (const Error&) {
    // A malformed path does nothing but earn a 400; it still needs what reading needs.
  }
  std::optional<std::string> refusal = RefusalOf(*policy, peer, operation);
  if (!refusal) return std::nullopt;
  refusal_log_.Refused(peer, *refusal);
  return ApiResponse{403, "application/json", ErrorBody(Error::PermissionDenied(*refusal))};
}

template <class Protocol>
asio::awaitable<void> ControlServer::Impl::AnswerReadError(BasicConnection<Protocol>& connection,
                                                           const beast::error_code& ec) {
  if (stopping_) co_return;
  http::response<http::string_body> response;
  if (ec == http::error::body_limit) {
    response = MakeErrorResponse(
        http::status::payload_too_large,
        "request body is larger than " + std::to_string(options_.body_limit) + " bytes");
  } else if (ec == http::error::header_limit) {
    response = MakeErrorResponse(
        http::status::request_header_fields_too_large,
        "request header is larger than " + std::to_string(options_.header_limit) + " bytes");
  } else if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
             ec != http::error::partial_message) {
    response =
        MakeErrorResponse(http::status::bad_request, "malformed HTTP request: " + ec.message());
  } else {
    co_return;  // the client went away or timed out: nobody to answer
  }
  connection.stream.expires_after(options_.write_timeout);
  auto [write_ec, unused] = co_await http::async_write(connection.stream, response, kNoThrow);
  if (!write_ec) co_await Linger(connection);
}

template <class Protocol>
asio::awaitable<void> ControlServer::Impl::Linger(BasicConnection<Protocol>& connection) {
  beast::error_code ignored;
  connection.stream.socket().shutdown(asio::socket_base::shutdown_send, ignored);
  connection.stream.expires_after(
      std::min<std::chrono::seconds>(kLingerTime, options_.read_timeout));
  std::array<char, 16 << 10> sink;
  for (size_t total = 0; total < kLingerBytes;) {
    auto [ec, n] = co_await connection.stream.async_read_some(asio::buffer(sink), kNoThrow);
    if (ec) break;
    total += n;
  }
}

template <class Protocol>
asio::awaitable<void> ControlServer::Impl::Refuse(
    std::shared_ptr<BasicConnection<Protocol>> connection, Listener& listener,
    std::string message) {
  LeaveSetOnExit leave(listener, listener.refused, connection.get(), std::nullopt);
  // Reading the request first lets the client see the answer rather than a broken pipe.
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(options_.header_limit, std::numeric_limits<std::uint32_t>::max())));
  beast::flat_buffer buffer;
  connection->stream.expires_after(
      std::min<std::chrono::seconds>(kLingerTime, options_.read_timeout));
  auto [ec, unused] =
      co_await http::async_read_header(connection->stream, buffer, parser, kNoThrow);
  if (!ec && !stopping_) {
    auto response = MakeErrorResponse(http::status::service_unavailable, message);
    connection->stream.expires_after(options_.write_timeout);
    std::tie(ec, unused) = co_await http::async_write(connection->stream, response, kNoThrow);
    if (!ec) co_await Linger(*connection);
  }
  Close(*connection);
}

template <class Protocol>
void ControlServer::Impl::Close(BasicConnection<Protocol>& connection) {
  beast::error_code ignored;
  connection.stream.socket().shutdown(asio::socket_base::shutdown_both, ignored);
  connection.stream.close();
}

ControlServer::ControlServer(Options options, ApiHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

ControlServer::~ControlServer() = default;

void ControlServer::Start() {
  impl_->Start();
}

void ControlServer::Stop() {
  impl_->Stop();
}

void ControlServer::SetAccessPolicy(AccessPolicy policy) {
  impl_->SetAccessPolicy(std::move(policy));
}

std::string ControlServer::MetricsEndpoint() const {
  return impl_->MetricsEndpoint();
}

}  // namespace snapd
