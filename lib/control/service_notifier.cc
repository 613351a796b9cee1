// ServiceNotifier over libsystemd's sd_notify.
#include "control/service_notifier.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace snapd {
namespace {

std::string OneLine(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

std::uint64_t MonotonicMicroseconds() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000 +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000;
}

// The health callback's answer; a throw is unhealthy, with its message as `reason`.
bool CallHealthy(const std::function<bool()>& healthy, std::string& reason) {
  try {
    reason.clear();
    return healthy();
  } catch (const std::exception& e) {
    reason = e.what();
    return false;
  }
}

}  // namespace

ServiceNotifier::~ServiceNotifier() {
  StopWatchdog();
}

bool ServiceNotifier::Enabled() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

void ServiceNotifier::Ready(std::string_view status) {
  Send("READY=1\nSTATUS=" + OneLine(status));
}

void ServiceNotifier::Status(std::string_view text) {
  Send("STATUS=" + OneLine(text));
}

void ServiceNotifier::Reloading() {
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(MonotonicMicroseconds()));
}

void ServiceNotifier::Stopping() {
  Send("STOPPING=1");
}

std::chrono::microseconds ServiceNotifier::StartWatchdog(std::function<bool()> healthy) {
  StopWatchdog();
  std::uint64_t usec = 0;
  if (!Enabled() || ::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
    return std::chrono::microseconds(0);
  }
  const std::chrono::microseconds interval(usec);
  {
    std::lock_guard lock(mutex_);
    stop_ = false;
  }
  watchdog_ = std::thread(&ServiceNotifier::WatchdogLoop, this, interval / 2, std::move(healthy));
  return interval;
}

void ServiceNotifier::StopWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void ServiceNotifier::WatchdogLoop(std::chrono::microseconds period,
                                   std::function<bool()> healthy) {
  bool was_healthy = true;
  std::string reason;
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    const bool now_healthy = CallHealthy(healthy, reason);
    if (now_healthy) Send("WATCHDOG=1");
    if (now_healthy != was_healthy) {  // logged on change only: this runs every few seconds
      if (now_healthy) {
        spdlog::info("watchdog: healthy again, pinging systemd");
      } else {
        spdlog::warn("watchdog: daemon unhealthy{}, not pinging systemd (it will restart us)",
                     reason.empty() ? "" : " (" + reason + ")");
      }
      was_healthy = now_healthy;
    }
    lock.lock();
    wake_.wait_for(lock, period, [this] { return stop_; });
  }
}

void ServiceNotifier::Send(const std::string& state) {
  const int result = ::sd_notify(0, state.c_str());
  if (result >= 0) return;
  std::lock_guard lock(mutex_);
  if (warned_) return;
  warned_ = true;
  spdlog::warn("sd_notify to $NOTIFY_SOCKET failed: {}", std::strerror(-result));
}

}  // namespace snapd
