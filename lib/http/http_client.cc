// libcurl easy-handle wrapper.
#include "http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>

#include "core/error.h"

namespace snapd {
namespace {

constexpr size_t kMaxErrorBody = 1 << 20;

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  long status = 0;
  std::exception_ptr sink_error;
  std::string_view body_left;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or 100-continue): start over.
    t->response->headers.clear();
    size_t sp = line.find(' ');
    t->status =
        sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response->headers.emplace_back(Lower(Trim(line.substr(0, colon))),
                                      std::string(Trim(line.substr(colon + 1))));
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->request->response_sink != nullptr && t->status >= 200 && t->status < 300) {
    try {
      t->request->response_sink->Write(std::string_view(data, n));
    } catch (...) {
      t->sink_error = std::current_exception();
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    return n;
  }
  size_t room = kMaxErrorBody - std::min(kMaxErrorBody, t->response->body.size());
  t->response->body.append(data, std::min(n, room));
  return n;
}

size_t OnReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t room = size * count;
  if (t->request->body_source) {
    try {
      return t->request->body_source(buffer, room);
    } catch (...) {
      t->sink_error = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }
  size_t n = std::min(room, t->body_left.size());
  std::copy_n(t->body_left.data(), n, buffer);
  t->body_left.remove_prefix(n);
  return n;
}

int OnSeekBody(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  const auto at = static_cast<uint64_t>(offset);
  if (t->request->body_source) {
    if (!t->request->body_seek || at > t->request->body_size) return CURL_SEEKFUNC_CANTSEEK;
    t->request->body_seek(at);
    return CURL_SEEKFUNC_OK;
  }
  if (at > t->request->body.size()) return CURL_SEEKFUNC_CANTSEEK;
  t->body_left = t->request->body.substr(at);
  return CURL_SEEKFUNC_OK;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  const auto* cancel = t->request->cancel;
  return cancel != nullptr && cancel->load(std::memory_order_relaxed) ? 1 : 0;
}

bool IsTransient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

void Check(CURLcode code, const char* what) {
  if (code != CURLE_OK) {
    throw Error::Permanent(std::string("libcurl: cannot set ") + what + ": " +
                           curl_easy_strerror(code));
  }
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

struct HttpClient::Handle {
  CURL* curl = nullptr;
};

HttpClient::HttpClient() : handle_(std::make_unique<Handle>()) {
  handle_->curl = curl_easy_init();
  if (handle_->curl == nullptr) throw Error::Permanent("libcurl: cannot create a handle");
}

HttpClient::~HttpClient() {
  curl_easy_cleanup(handle_->curl);
}

HttpResponse HttpClient::Perform(const HttpRequest& request) {
  CURL* c = handle_->curl;
  curl_easy_reset(c);
  HttpResponse response;
  Transfer t;
  t.request = &request;
  t.response = &response;
  t.body_left = request.body;
  char error_text[CURL_ERROR_SIZE] = {0};

  Check(curl_easy_setopt(c, CURLOPT_URL, request.url.c_str()), "url");
  Check(curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text), "error buffer");
  Check(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), "nosignal");
  Check(curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols");
  Check(curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader), "header callback");
  Check(curl_easy_setopt(c, CURLOPT_HEADERDATA, &t), "header data");
  if (request.response_sink != nullptr) {
    // A streamed body (a snapshot) in 256 KiB reads instead of curl's default 16 KiB: fewer
    // wakeups and callbacks, and most of a gateway stream's 44 KB messages arrive whole.
    Check(curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L << 10), "buffer size");
  }
  Check(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody), "write callback");
  Check(curl_easy_setopt(c, CURLOPT_WRITEDATA, &t), "write data");
  Check(curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L), "progress");
  Check(curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress), "progress callback");
  Check(curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t), "progress data");
  Check(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         static_cast<long>(request.connect_timeout.count() * 1000)),
        "connect timeout");
  if (request.timeout.count() > 0) {
    Check(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count())),
          "timeout");
  }
  if (request.stall_timeout.count() > 0) {
    Check(curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L), "low speed limit");
    Check(curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                           static_cast<long>(request.stall_timeout.count())),
          "low speed time");
  }
  if (request.tcp_keepalive) {
    Check(curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L), "TCP keepalive");
    Check(curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L), "TCP keepalive idle");
    Check(curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L), "TCP keepalive interval");
  }
  if (request.http2) {
    Check(curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE), "HTTP/2");
  }
  if (!request.unix_socket.empty()) {
    Check(curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, request.unix_socket.c_str()),
          "unix socket");
  }
  if (request.proxy == "none") {
    Check(curl_easy_setopt(c, CURLOPT_PROXY, ""), "proxy");
  } else if (!request.proxy.empty()) {
    Check(curl_easy_setopt(c, CURLOPT_PROXY, request.proxy.c_str()), "proxy");
  }

  const TlsOptions& tls = request.tls;
  curl_blob ca_blob{};
  if (!tls.ca_pem.empty()) {
    ca_blob.data = const_cast<char*>(tls.ca_pem.data());
    ca_blob.len = tls.ca_pem.size();
    ca_blob.flags = CURL_BLOB_COPY;
    Check(curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca_blob), "CA certificates");
  } else if (!tls.ca_file.empty()) {
    Check(curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca_file.c_str()), "CA file");
  }
  if (!tls.cert_file.empty()) {
    Check(curl_easy_setopt(c, CURLOPT_SSLCERT, tls.cert_file.c_str()), "client certificate");
  }
  if (!tls.key_file.empty()) {
    Check(curl_easy_setopt(c, CURLOPT_SSLKEY, tls.key_file.c_str()), "client key");
  }
  if (tls.skip_verify) {
    Check(curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L), "verify peer");
    Check(curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L), "verify host");
  }

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // libcurl would otherwise send "Expect: 100-continue" and wait on large bodies.
  headers = curl_slist_append(headers, "Expect:");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers,
                                                                           curl_slist_free_all);
  Check(curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers), "headers");

  bool has_body = request.body_source || !request.body.empty() || request.method == "POST" ||
                  request.method == "PUT";
  if (request.head) {
    Check(curl_easy_setopt(c, CURLOPT_NOBODY, 1L), "HEAD");
  } else if (has_body) {
    curl_off_t size = request.body_source ? static_cast<curl_off_t>(request.body_size)
                                          : static_cast<curl_off_t>(request.body.size());
    Check(curl_easy_setopt(c, CURLOPT_UPLOAD, 1L), "upload");
    Check(curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, size), "upload size");
    Check(curl_easy_setopt(c, CURLOPT_READFUNCTION, OnReadBody), "read callback");
    Check(curl_easy_setopt(c, CURLOPT_READDATA, &t), "read data");
    Check(curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, OnSeekBody), "seek callback");
    Check(curl_easy_setopt(c, CURLOPT_SEEKDATA, &t), "seek data");
  }
  // UPLOAD implies PUT; name the real method.
  Check(curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str()), "method");

  CURLcode code = curl_easy_perform(c);
  if (t.sink_error) std::rethrow_exception(t.sink_error);
  if (code != CURLE_OK) {
    std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
    std::string message = request.method + " " + request.url + ": " + detail;
    if (code == CURLE_ABORTED_BY_CALLBACK)
      throw Error::Cancelled(request.method + " " + request.url + ": cancelled");
    throw Error(IsTransient(code) ? ErrorKind::kTransient : ErrorKind::kPermanent, message);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace snapd
