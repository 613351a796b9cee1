// The control API's request and response as plain values, so routing and its tests need neither
// Beast nor a socket.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace snapd {

// Who is on the other end of the control socket, from SO_PEERCRED and SO_PEERGROUPS, as the
// daemon's user namespace sees them (ids it does not map show as the overflow id, 65534).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;              // primary (effective) group
  std::vector<gid_t> groups;  // supplementary groups; empty when none or unknown
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
