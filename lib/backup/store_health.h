// Keeps a peer's last health check (etcd answers; the bucket exists and the credentials work)
// fresh on a thread of its own, so `snapctl status` reports it at once and a slow or dead endpoint
// never stalls it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace snapd {

struct StoreHealthState {
  bool checked = false;
  bool ok = false;
  std::string error;
  int64_t checked_at = 0;  // unix seconds
};

class StoreHealth {
 public:
  // `check` throws to report a problem. Checks every `ok_interval` while healthy and every
  // `failed_interval` while not. `name` ("etcd", "S3") names it in the log.
  StoreHealth(std::string name, std::function<void()> check, std::chrono::seconds ok_interval,
              std::chrono::seconds failed_interval);
  ~StoreHealth();

  // Checks at once and then periodically, on a background thread: a slow endpoint must not
  // hold up the daemon's start.
  void Start();
  void Stop();
  StoreHealthState State() const;

 private:
  void CheckOnce();

  std::string name_;
  std::function<void()> check_;
  std::chrono::seconds ok_interval_;
  std::chrono::seconds failed_interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  StoreHealthState state_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace snapd
