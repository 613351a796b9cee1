// Background health checks of a store.
#include "backup/store_health.h"

#include <spdlog/spdlog.h>

namespace snapd {

StoreHealth::StoreHealth(std::string name, std::function<void()> check,
                         std::chrono::seconds ok_interval, std::chrono::seconds failed_interval)
    : name_(std::move(name)),
      check_(std::move(check)),
      ok_interval_(ok_interval),
      failed_interval_(failed_interval) {}

StoreHealth::~StoreHealth() {
  Stop();
}

void StoreHealth::CheckOnce() {
  StoreHealthState result;
  result.checked = true;
  try {
    check_();
    result.ok = true;
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  result.checked_at = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::lock_guard lock(mutex_);
  if (result.ok != state_.ok || !state_.checked || result.error != state_.error) {
    if (result.ok) {
      spdlog::info("{} check passed", name_);
    } else {
      spdlog::error("{} check failed: {}", name_, result.error);
    }
  }
  state_ = result;
}

void StoreHealth::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      CheckOnce();
      lock.lock();
      auto wait = state_.ok ? ok_interval_ : failed_interval_;
      if (wake_.wait_for(lock, wait, [&] { return stopping_; })) break;
    }
  });
}

void StoreHealth::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

StoreHealthState StoreHealth::State() const {
  std::lock_guard lock(mutex_);
  return state_;
}

}  // namespace snapd
