// PeriodicTask on a std::thread and a condition variable.
#include "backup/periodic_task.h"

#include <spdlog/spdlog.h>

namespace snapd {

PeriodicTask::PeriodicTask(std::string name, std::function<void()> run,
                           std::chrono::seconds interval)
    : name_(std::move(name)), run_(std::move(run)), interval_(interval) {}

PeriodicTask::~PeriodicTask() {
  Stop();
}

void PeriodicTask::Start(std::chrono::seconds first_delay) {
  thread_ = std::thread([this, first_delay] {
    std::unique_lock lock(mutex_);
    auto wait = first_delay;
    while (!wake_.wait_for(lock, wait, [&] { return stopping_; })) {
      lock.unlock();
      std::string failure;
      try {
        run_();
      } catch (const std::exception& e) {
        failure = e.what();
      }
      lock.lock();
      if (!failure.empty() && !stopping_) {  // a run cut short by Stop is no failure
        spdlog::warn("{} failed (tried again in {} s): {}", name_, interval_.count(), failure);
      }
      ++runs_;
      wait = interval_;
    }
  });
}

void PeriodicTask::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int PeriodicTask::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

}  // namespace snapd
