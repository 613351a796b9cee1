// The control API's HTTP/1.1 server on a UNIX socket (and, for metrics only, on TCP). It moves
// requests and responses and decides who may send what (the access policy, judged on the route
// table before the handler sees anything): what a request means is the ApiHandler's business.
// Beast stays inside control_server.cc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "control/access_policy.h"
#include "control/api_message.h"

namespace snapd {

class ControlServer {
 public:
  struct Options {
    std::string socket_path;
    mode_t socket_mode = 0660;
    gid_t socket_group = static_cast<gid_t>(-1);  // -1: leave the group as created
    size_t body_limit = 1 << 20;                  // larger bodies are answered 413
    size_t header_limit = 16 << 10;               // larger headers are answered 431
    std::chrono::seconds read_timeout{10};        // for a whole request, and idle keep-alive
    std::chrono::seconds write_timeout{30};
    size_t max_connections = 64;  // connections beyond this are answered 503 and closed
    // Peers other than root and this process's own user: each uid may hold this many
    // connections, and all of them together max_connections - reserved_connections, so that
    // root always finds a free one. Beyond that they are answered 503. UNIX socket only.
    size_t connections_per_user = 16;
    size_t reserved_connections = 8;
    // Handlers of root and this process's user run on their own threads, so that no other
    // user's slow requests (a listing of a slow S3) hold theirs up.
    unsigned handler_threads = 2;
    unsigned shared_handler_threads = 2;  // for everyone else, TCP metrics scrapes included
    // Who may do what over the UNIX socket; refusals are answered 403 before the handler is
    // called and logged. nullopt: whoever can connect may do anything (the socket's mode and
    // group are the only check).
    std::optional<AccessPolicy> access;
    // "host:port" ("[v6]:port"; ":port" = every IPv4 address) on which GET /metrics and
    // GET /healthz are served over TCP as well; "" = no TCP. Nothing else is served there:
    // other paths are answered 404 and other methods 405 without reaching the handler, whose
    // requests from TCP carry peer uid and gid -1. Port 0 picks a free port.
    std::string metrics_address;
  };

  ControlServer(Options options, ApiHandler handler);
  ~ControlServer();  // Stop()s; must not run on one of the server's own threads

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds (the metrics address too, if any: kConflict when in use, kInvalidInput when it is
  // malformed or does not resolve) and starts serving on a background thread. Creates the socket's
  // parent directory (0755) if missing. An existing socket nobody answers on is replaced; a live
  // one is Error::Conflict; anything that is not a socket is Error::InvalidInput and left alone.
  // The socket gets options.socket_mode whatever the umask, and options.socket_group.
  void Start();

  // Stops accepting and removes the socket file; requests already being handled are answered,
  // idle and half-read connections are closed. Idempotent and callable from any thread; when
  // called from inside the handler it only begins the stop, and the destructor (or a later
  // Stop from another thread) waits for the threads.
  void Stop();

  // Replaces the access policy (on reload); requests read after this call are judged by it.
  void SetAccessPolicy(AccessPolicy policy);

  // The TCP address bound for metrics ("127.0.0.1:9469", "[::1]:9469") while running; "" when
  // there is none or the server is not running.
  std::string MetricsEndpoint() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace snapd
