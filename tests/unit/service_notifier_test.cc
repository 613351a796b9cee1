// Tests of ServiceNotifier against a datagram socket standing in for systemd's NOTIFY_SOCKET.
#include <catch2/catch.hpp>

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/service_notifier.h"

using namespace snapd;
using namespace std::chrono_literals;

namespace {

// A bound AF_UNIX datagram socket in a fresh temp dir; sets NOTIFY_SOCKET to it and the
// watchdog variables as systemd would, and clears all three when done.
class FakeSystemd {
 public:
  explicit FakeSystemd(std::chrono::microseconds watchdog = 0us) {
    std::string pattern = (std::filesystem::temp_directory_path() / "notify-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    const std::string path = (dir_ / "notify.sock").string();
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    if (watchdog > 0us) {
      ::setenv("WATCHDOG_USEC", std::to_string(watchdog.count()).c_str(), 1);
      ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    }
  }
  ~FakeSystemd() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }

  // Every datagram that arrives within `wait`.
  std::vector<std::string> Receive(std::chrono::milliseconds wait) {
    std::vector<std::string> messages;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      REQUIRE(n >= 0);
      messages.emplace_back(buffer, static_cast<std::size_t>(n));
    }
    return messages;
  }

  // The first datagram within `wait`, "" if none.
  std::string Next(std::chrono::milliseconds wait = 1000ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return "";
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    REQUIRE(n >= 0);
    return std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
};

std::size_t CountOf(const std::vector<std::string>& messages, const std::string& message) {
  return static_cast<std::size_t>(std::count(messages.begin(), messages.end(), message));
}

}  // namespace

TEST_CASE("ready, status, reloading and stopping reach NOTIFY_SOCKET", "[notify]") {
  FakeSystemd systemd;
  ServiceNotifier notifier;
  CHECK(ServiceNotifier::Enabled());
  notifier.Ready("idle; last snapshot ok");
  CHECK(systemd.Next() == "READY=1\nSTATUS=idle; last snapshot ok");
  notifier.Status("saving etcd-snapshot-n1-1700000000\nsecond line");
  CHECK(systemd.Next() == "STATUS=saving etcd-snapshot-n1-1700000000 second line");

  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const long long before = now.tv_sec * 1000000LL + now.tv_nsec / 1000;
  notifier.Reloading();
  const std::string reloading = systemd.Next();
  REQUIRE(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="));
  const long long stamp = std::stoll(reloading.substr(reloading.find('=', 12) + 1));
  CHECK(stamp >= before);
  CHECK(stamp < before + 5000000);

  notifier.Stopping();
  CHECK(systemd.Next() == "STOPPING=1");
}

TEST_CASE("the watchdog pings at half the interval while healthy", "[notify]") {
  FakeSystemd systemd(200ms);
  ServiceNotifier notifier;
  std::atomic<bool> healthy{true};
  std::atomic<int> checks{0};
  const auto interval = notifier.StartWatchdog([&] {
    ++checks;
    return healthy.load();
  });
  CHECK(interval == 200ms);
  // Pings at 0, 100, 200, 300 and 400 ms: at least three in 450 ms even on a slow machine.
  std::vector<std::string> messages = systemd.Receive(450ms);
  CHECK(CountOf(messages, "WATCHDOG=1") >= 3);
  CHECK(CountOf(messages, "WATCHDOG=1") <= 6);
  CHECK(CountOf(messages, "WATCHDOG=1") == messages.size());

  healthy = false;
  systemd.Receive(150ms);  // a ping may have been on its way
  const int checks_before = checks.load();
  messages = systemd.Receive(400ms);
  CHECK(messages.empty());
  CHECK(checks.load() >= checks_before + 2);  // still asking, just not pinging

  healthy = true;
  CHECK(systemd.Next(500ms) == "WATCHDOG=1");

  notifier.StopWatchdog();
  systemd.Receive(50ms);
  CHECK(systemd.Receive(300ms).empty());
}

TEST_CASE("a throwing health check counts as unhealthy", "[notify]") {
  FakeSystemd systemd(100ms);
  ServiceNotifier notifier;
  std::atomic<int> calls{0};
  notifier.StartWatchdog([&]() -> bool {
    ++calls;
    throw std::runtime_error("scheduler gone");
  });
  CHECK(systemd.Receive(300ms).empty());
  CHECK(calls.load() >= 2);
}

TEST_CASE("without systemd's variables nothing is started or sent", "[notify]") {
  SECTION("no NOTIFY_SOCKET") {
    ::unsetenv("NOTIFY_SOCKET");
    ServiceNotifier notifier;
    CHECK_FALSE(ServiceNotifier::Enabled());
    notifier.Ready("x");
    notifier.Status("y");
    notifier.Reloading();
    notifier.Stopping();
    bool called = false;
    CHECK(notifier.StartWatchdog([&] { return called = true; }) == 0us);
    CHECK_FALSE(called);
  }
  SECTION("no WATCHDOG_USEC") {
    FakeSystemd systemd;
    ServiceNotifier notifier;
    CHECK(notifier.StartWatchdog([] { return true; }) == 0us);
    CHECK(systemd.Receive(200ms).empty());
  }
  SECTION("the watchdog is another process's") {
    FakeSystemd systemd(100ms);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    ServiceNotifier notifier;
    CHECK(notifier.StartWatchdog([] { return true; }) == 0us);
    CHECK(systemd.Receive(200ms).empty());
  }
}
