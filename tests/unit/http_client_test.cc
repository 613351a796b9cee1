// HttpClient against a scripted loopback server: a streamed body is sent again from its start
// when libcurl retries a request on a new connection.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"

using snapd::HttpClient;
using snapd::HttpRequest;

namespace {

// A loopback listener answering one connection at a time, as scripted by the test.
class ScriptedServer {
 public:
  ScriptedServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listen_fd_, 4) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~ScriptedServer() { ::close(listen_fd_); }

  // The next connection, or -1 after 20 s without one (the client gave up).
  int Accept() {
    pollfd ready{listen_fd_, POLLIN, 0};
    if (::poll(&ready, 1, 20000) != 1) return -1;
    return ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
};

// Reads from `fd` until `text` holds the request's headers and `body_bytes` of its body (or
// the peer closes). Returns the body read so far.
std::string ReadRequest(int fd, size_t body_bytes) {
  std::string text;
  char buffer[65536];
  for (;;) {
    const size_t end = text.find("\r\n\r\n");
    if (end != std::string::npos && text.size() - end - 4 >= body_bytes) {
      return text.substr(end + 4);
    }
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return end == std::string::npos ? "" : text.substr(end + 4);
    text.append(buffer, static_cast<size_t>(n));
  }
}

void Answer(int fd) {
  const char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  REQUIRE(::write(fd, kOk, sizeof kOk - 1) == static_cast<ssize_t>(sizeof kOk - 1));
}

// A PUT of `body`, streamed by offset as S3Client streams parts, counting the rewinds.
struct StreamedPut {
  StreamedPut(int port, const std::string& body) : body(body) {
    request.method = "PUT";
    request.url = "http://127.0.0.1:" + std::to_string(port) + "/part";
    request.proxy = "none";
    request.timeout = std::chrono::seconds(30);
    request.body_size = body.size();
    request.body_source = [this](char* buffer, size_t size) {
      const size_t n = std::min(size, this->body.size() - position);
      std::memcpy(buffer, this->body.data() + position, n);
      position += n;
      return n;
    };
    request.body_seek = [this](uint64_t offset) {
      seeks.push_back(offset);
      position = offset;
    };
  }
  StreamedPut(const StreamedPut&) = delete;
  StreamedPut& operator=(const StreamedPut&) = delete;

  const std::string& body;
  HttpRequest request;
  size_t position = 0;
  std::vector<uint64_t> seeks;
};

}  // namespace

TEST_CASE("a streamed body is sent again from its start on a new connection", "[http]") {
  ScriptedServer server;
  const std::string first(1000, 'a');
  std::string second;
  for (int i = 0; second.size() < 256 * 1024; ++i) second += std::to_string(i) + ",";
  std::string received;
  std::thread peer([&] {
    const int kept = server.Accept();
    CHECK(ReadRequest(kept, first.size()) == first);
    Answer(kept);  // keep-alive: the client reuses this connection for the next request
    // The next request on it arrives whole, then the connection dies unanswered (read to its
    // end, so that the client sees a clean close, not a reset while sending).
    CHECK(ReadRequest(kept, second.size()) == second);
    ::close(kept);
    const int fresh = server.Accept();
    if (fresh < 0) return;
    received = ReadRequest(fresh, second.size());
    Answer(fresh);
    ::close(fresh);
  });
  HttpClient client;
  StreamedPut put_first(server.port(), first);
  CHECK(client.Perform(put_first.request).status == 200);
  StreamedPut put_second(server.port(), second);
  CHECK(client.Perform(put_second.request).status == 200);
  peer.join();
  CHECK(put_second.seeks == std::vector<uint64_t>{0});
  CHECK(received.size() == second.size());
  CHECK(received == second);
}
