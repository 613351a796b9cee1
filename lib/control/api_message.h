// The control API's request and response as plain values, so routing and its tests need neither
// Beast nor a socket.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

namespace snapd {

// Who is on the other end of the control socket, from SO_PEERCRED.
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct ApiRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // path and query as sent, e.g. "/v1/snapshots?node=a"
  std::string body;
  std::string content_type;
  PeerCredentials peer;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Answers one request. May throw: the server turns snapd::Error into a status by its kind and
// any other exception into 500.
using ApiHandler = std::function<ApiResponse(const ApiRequest&)>;

}  // namespace snapd
