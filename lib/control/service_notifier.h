// Tells systemd (Type=notify) when the daemon is ready, reloading or stopping, what it is doing,
// and, under WatchdogSec=, that it is still alive. Without NOTIFY_SOCKET every call does nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace snapd {

class ServiceNotifier {
 public:
  ServiceNotifier() = default;
  ~ServiceNotifier();  // stops the watchdog
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // Whether NOTIFY_SOCKET names a socket, i.e. systemd (or a test) listens.
  static bool Enabled();

  // READY=1 with a status line. Also ends a reload begun with Reloading().
  void Ready(std::string_view status);
  // STATUS=: one line shown by `systemctl status` (line breaks become spaces).
  void Status(std::string_view text);
  // RELOADING=1 with MONOTONIC_USEC, which Type=notify-reload (systemd 253+) requires and older
  // systemd ignores. Send Ready() when the reload is done, whether or not it succeeded.
  void Reloading();
  // STOPPING=1: shutdown has begun. The watchdog keeps running until StopWatchdog().
  void Stopping();

  // When systemd's watchdog covers this process (WATCHDOG_USEC set and WATCHDOG_PID ours or
  // absent), starts a thread sending WATCHDOG=1 at once and every half interval for as long as
  // `healthy` returns true; while it returns false (or throws) nothing is sent, so systemd
  // kills and restarts a daemon whose main loop is stuck. `healthy` runs on that thread and
  // must return quickly. Returns the interval systemd expects, zero when there is no watchdog
  // (then nothing is started). Calling it again replaces the running watchdog.
  std::chrono::microseconds StartWatchdog(std::function<bool()> healthy);
  void StopWatchdog();

 private:
  void Send(const std::string& state);
  void WatchdogLoop(std::chrono::microseconds period, std::function<bool()> healthy);

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread watchdog_;
  bool warned_ = false;  // a failing socket is reported once, not every ping
};

}  // namespace snapd
