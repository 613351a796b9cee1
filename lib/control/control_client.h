// The control API client snapctl uses: HTTP/1.1 over the daemon's UNIX socket, on libcurl.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "control/api_message.h"

namespace snapd {

class ControlClient {
 public:
  // `timeout` bounds each whole request; zero means none (for waits like `snapctl save`).
  explicit ControlClient(std::string socket_path,
                         std::chrono::seconds timeout = std::chrono::seconds(30));
  ~ControlClient();
  ControlClient(ControlClient&&) noexcept;
  ControlClient& operator=(ControlClient&&) noexcept;

  // `target` is the path and query, starting with '/'. Any HTTP status is returned as is;
  // only failing to talk to the daemon throws: Error::Transient when it is unreachable or
  // does not answer in time, Error::Permanent when the socket refuses us (permissions).
  ApiResponse Get(std::string_view target);
  ApiResponse Post(std::string_view target, std::string_view json_body);
  ApiResponse Delete(std::string_view target);

 private:
  struct CurlCleanup {
    void operator()(void* curl) const;
  };

  ApiResponse Send(const char* method, std::string_view target, const std::string_view* body);

  std::string socket_path_;
  std::chrono::seconds timeout_;
  std::unique_ptr<void, CurlCleanup> curl_;  // kept so keep-alive connections are reused
};

}  // namespace snapd
