// The scheduler thread: sleep until the next cron time and its jitter, fire, repeat.
#include "backup/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace snapd {
namespace {

constexpr std::chrono::milliseconds kMaxJitter{5000};

std::chrono::milliseconds RandomJitter(std::chrono::milliseconds limit) {
  if (limit.count() <= 0) return std::chrono::milliseconds(0);
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return std::chrono::milliseconds(
      std::uniform_int_distribution<int64_t>(0, limit.count())(random));
}

}  // namespace

std::chrono::milliseconds ScheduleJitterLimit(SystemTime fire,
                                              std::optional<SystemTime> following) {
  if (!following || *following <= fire) return std::chrono::milliseconds(0);
  auto tenth = std::chrono::duration_cast<std::chrono::milliseconds>(*following - fire) / 10;
  return std::min(kMaxJitter, tenth);
}

Scheduler::Scheduler(CronSchedule schedule, const Clock& clock,
                     std::function<void(SystemTime)> on_fire, Jitter jitter)
    : schedule_(std::move(schedule)),
      clock_(clock),
      on_fire_(std::move(on_fire)),
      jitter_(jitter ? std::move(jitter) : Jitter(RandomJitter)) {}

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

bool Scheduler::WaitUntil(std::unique_lock<std::mutex>& lock, SystemTime when) {
  // Wake on the system clock; re-check against the injected one, so a clock set back (NTP)
  // does not fire early.
  while (!stopping_ && clock_.Now() < when) {
    wake_.wait_until(lock, std::chrono::system_clock::now() + (when - clock_.Now()));
  }
  return !stopping_;
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
    const SystemTime fire = *next_;
    if (!WaitUntil(lock, fire)) break;
    // As k3s: servers on the same schedule do not all start at the same instant.
    const auto delay = jitter_(ScheduleJitterLimit(fire, schedule_.Next(fire)));
    if (delay.count() > 0 && !WaitUntil(lock, fire + delay)) break;
    after = fire;
    lock.unlock();
    try {
      on_fire_(schedule_.RunOf(fire));
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
