// The control API client on libcurl: one easy handle per client so its connection is reused,
// and transport failures turned into errors that tell the user what to check.
#include "control/control_client.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace snapd {
namespace {

size_t AppendToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// The reason connecting failed, from curl's saved errno or, failing that, the path itself.
int ConnectErrno(CURL* curl, const std::string& socket_path) {
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  if (os_errno != 0) return static_cast<int>(os_errno);
  struct stat st {};
  if (lstat(socket_path.c_str(), &st) != 0) return errno;
  return ECONNREFUSED;
}

[[noreturn]] void ThrowConnectError(CURL* curl, const std::string& socket_path) {
  const std::string prefix = "cannot reach k3s-snapd at " + socket_path + ": ";
  int error = ConnectErrno(curl, socket_path);
  switch (error) {
    case ENOENT:
      throw Error::Transient(prefix + "no such socket (is the daemon running?)");
    case ECONNREFUSED:
      throw Error::Transient(prefix + "connection refused (is the daemon running?)");
    case EACCES:
    case EPERM:
      throw Error::Permanent(prefix +
                             "permission denied (is your user in the socket's group, or root?)");
    default:
      throw Error::Transient(prefix + std::strerror(error));
  }
}

void SetOption(CURL* curl, CURLoption option, auto value) {
  CURLcode code = curl_easy_setopt(curl, option, value);
  if (code != CURLE_OK) {
    throw Error::Permanent(std::string("control client: setting a curl option failed: ") +
                           curl_easy_strerror(code));
  }
}

struct HeaderList {
  ~HeaderList() { curl_slist_free_all(list); }
  void Add(const char* header) {
    curl_slist* longer = curl_slist_append(list, header);
    if (longer == nullptr) throw std::bad_alloc();
    list = longer;
  }
  curl_slist* list = nullptr;
};

}  // namespace

void ControlClient::CurlCleanup::operator()(void* curl) const {
  curl_easy_cleanup(curl);
}

ControlClient::ControlClient(std::string socket_path, std::chrono::seconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

ControlClient::~ControlClient() = default;
ControlClient::ControlClient(ControlClient&&) noexcept = default;
ControlClient& ControlClient::operator=(ControlClient&&) noexcept = default;

ApiResponse ControlClient::Get(std::string_view target) {
  return Send("GET", target, nullptr);
}

ApiResponse ControlClient::Post(std::string_view target, std::string_view json_body) {
  return Send("POST", target, &json_body);
}

ApiResponse ControlClient::Delete(std::string_view target) {
  return Send("DELETE", target, nullptr);
}

ApiResponse ControlClient::Send(const char* method, std::string_view target,
                                const std::string_view* body) {
  if (target.empty() || target.front() != '/') {
    throw Error::InvalidInput("control API target '" + std::string(target) +
                              "' does not start with '/'");
  }
  if (!curl_) {
    curl_.reset(curl_easy_init());
    if (!curl_) throw Error::Permanent("control client: cannot initialise libcurl");
  }
  CURL* curl = curl_.get();
  // Forgets the previous request's options but keeps its open connection for reuse.
  curl_easy_reset(curl);

  const std::string url = "http://localhost" + std::string(target);
  std::string response_body;
  char error_text[CURL_ERROR_SIZE] = "";
  HeaderList headers;
  // Our bodies are small; waiting for "100 Continue" would only add a round trip.
  headers.Add("Expect:");

  SetOption(curl, CURLOPT_URL, url.c_str());
  SetOption(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  SetOption(curl, CURLOPT_PROXY, "");  // no proxy from the environment for a local socket
  SetOption(curl, CURLOPT_NOSIGNAL, 1L);
  SetOption(curl, CURLOPT_ERRORBUFFER, error_text);
  SetOption(curl, CURLOPT_WRITEFUNCTION, &AppendToString);
  SetOption(curl, CURLOPT_WRITEDATA, &response_body);
  const long timeout_ms = static_cast<long>(timeout_.count()) * 1000;
  SetOption(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (timeout_ms > 0) SetOption(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  if (body != nullptr) {
    headers.Add("Content-Type: application/json");
    SetOption(curl, CURLOPT_POST, 1L);
    SetOption(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    SetOption(curl, CURLOPT_POSTFIELDS, body->data());
  }
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "POST") != 0) {
    SetOption(curl, CURLOPT_CUSTOMREQUEST, method);
  }
  SetOption(curl, CURLOPT_HTTPHEADER, headers.list);

  CURLcode code = curl_easy_perform(curl);
  // The error buffer and header list die with this call: curl must not keep pointers to them.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  if (code != CURLE_OK) {
    const std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
    switch (code) {
      case CURLE_COULDNT_CONNECT:
        ThrowConnectError(curl, socket_path_);
      case CURLE_OPERATION_TIMEDOUT:
        throw Error::Transient("k3s-snapd at " + socket_path_ + " did not answer " + method + " " +
                               std::string(target) + " within " + std::to_string(timeout_.count()) +
                               " s");
      case CURLE_URL_MALFORMAT:
        throw Error::InvalidInput("control API target '" + std::string(target) +
                                  "' is not a valid URL path: " + detail);
      default:
        throw Error::Transient("talking to k3s-snapd at " + socket_path_ + ": " + detail);
    }
  }

  ApiResponse response;
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  const char* content_type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
  response.content_type = content_type != nullptr ? content_type : "";
  response.body = std::move(response_body);
  return response;
}

}  // namespace snapd
