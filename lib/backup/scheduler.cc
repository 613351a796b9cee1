// The scheduler thread: sleep until the next cron time, fire, repeat.
#include "backup/scheduler.h"

#include <spdlog/spdlog.h>

namespace snapd {

Scheduler::Scheduler(CronSchedule schedule, const Clock& clock, std::function<void()> on_fire)
    : schedule_(std::move(schedule)), clock_(clock), on_fire_(std::move(on_fire)) {}

Scheduler::~Scheduler() {
  Stop();
}

void Scheduler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<SystemTime> Scheduler::NextRun() const {
  std::lock_guard lock(mutex_);
  return next_;
}

void Scheduler::Loop() {
  std::unique_lock lock(mutex_);
  SystemTime after = clock_.Now();
  while (!stopping_) {
    next_ = schedule_.Next(after);
    if (!next_) {
      spdlog::warn("schedule \"{}\" never fires again", schedule_.spec());
      wake_.wait(lock, [&] { return stopping_; });
      break;
    }
    // Wake on the system clock; re-check against the injected one, so a clock set back (NTP)
    // does not fire early.
    while (!stopping_ && clock_.Now() < *next_) {
      wake_.wait_until(lock, std::chrono::system_clock::now() + (*next_ - clock_.Now()));
    }
    if (stopping_) break;
    after = *next_;
    lock.unlock();
    try {
      on_fire_();
    } catch (const std::exception& e) {
      spdlog::error("scheduled snapshot: {}", e.what());
    }
    lock.lock();
    // A run that outlasted one or more fire times skips them instead of catching up.
    if (clock_.Now() > after) after = clock_.Now();
  }
  next_.reset();
}

}  // namespace snapd
