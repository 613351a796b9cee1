// Fires the scheduled save at each cron time. A fire while the previous save still runs is the
// callback's to refuse (the job runner does), so runs are skipped, never piled up.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "schedule/cron_schedule.h"

namespace snapd {

class Scheduler {
 public:
  Scheduler(CronSchedule schedule, const Clock& clock, std::function<void()> on_fire);
  ~Scheduler();

  void Start();
  void Stop();  // idempotent; waits for a running callback to return
  std::optional<SystemTime> NextRun() const;
  const CronSchedule& schedule() const { return schedule_; }

 private:
  void Loop();

  CronSchedule schedule_;
  const Clock& clock_;
  std::function<void()> on_fire_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<SystemTime> next_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace snapd
