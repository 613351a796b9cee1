// All outbound HTTP (etcd's gateway, S3, the control socket client) goes through this libcurl
// wrapper: one place for TLS (CA, client certificate, skip-verify), proxies, timeouts,
// cancellation and streaming request and response bodies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/byte_sink.h"

namespace snapd {

struct TlsOptions {
  std::string ca_file;    // PEM bundle file; empty means the system's CAs
  std::string ca_pem;     // PEM text trusted instead of ca_file (etcd-s3-endpoint-ca blobs)
  std::string cert_file;  // client certificate (etcd as k3s runs it requires one)
  std::string key_file;
  bool skip_verify = false;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  std::string_view body;  // sent as is unless body_source is set
  // Streams the request body: fills up to `size` bytes, returns how many (0 at the end).
  std::function<size_t(char* buffer, size_t size)> body_source;
  uint64_t body_size = 0;  // with body_source: the exact length sent as Content-Length
  // With body_source: restarts the stream at `offset`, so that libcurl can send the body again
  // on a new connection when a reused one turns out closed. Without it that fails the request.
  std::function<void(uint64_t offset)> body_seek;
  // Receives the response body of 2xx answers as it arrives; other answers land in
  // HttpResponse::body (up to 1 MiB) so their error can be read.
  ByteSink* response_sink = nullptr;
  std::chrono::milliseconds timeout{0};  // whole transfer; 0 means none
  std::chrono::seconds connect_timeout{10};
  // Aborts when fewer than 1 byte a second flows for this long (a stalled peer).
  std::chrono::seconds stall_timeout{60};
  const std::atomic<bool>* cancel = nullptr;  // checked while transferring
  std::string unix_socket;                    // connect here instead of to the URL's host
  std::string proxy;                          // "" = from the environment, "none" = no proxy
  TlsOptions tls;
  bool head = false;  // a HEAD request: no body is read
  // TCP keepalive probes, so that a long idle stream (an etcd watch) notices a peer gone away.
  bool tcp_keepalive = false;
  // HTTP/2 only (gRPC): without TLS straight away (prior knowledge, as gRPC clients do), with
  // TLS by ALPN. Trailers then arrive in HttpResponse::headers after the body's headers.
  bool http2 = false;
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // names lower-cased
  std::string body;
  // The first value of header `name` (lower-case), or "".
  std::string Header(std::string_view name) const;
};

// Performs requests one at a time, reusing connections between them. Not thread-safe: give
// each thread its own client. Transport failures throw snapd::Error: kTransient for those worth
// retrying (refused, reset, timeout, cut), kPermanent otherwise (TLS verification, bad URL),
// kCancelled when `cancel` was set; an exception thrown by the response sink is rethrown as is.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse Perform(const HttpRequest& request);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

}  // namespace snapd
