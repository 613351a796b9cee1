// Fires the scheduled save at each cron time, a little after it as k3s does (jitter), with the
// cron time it stands for. A fire while the previous save still runs is the callback's to refuse
// (the job runner does), so runs are skipped, never piled up.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "schedule/cron_schedule.h"

namespace snapd {

// The longest delay after a fire time: k3s's 5 s, but never more than a tenth of the time to
// the following fire time (an `@every 1s` schedule is not delayed by seconds). Zero when there
// is no following fire time. Pure.
std::chrono::milliseconds ScheduleJitterLimit(SystemTime fire, std::optional<SystemTime> following);

class Scheduler {
 public:
  // A delay in [0, limit]; the default draws it uniformly at random.
  using Jitter = std::function<std::chrono::milliseconds(std::chrono::milliseconds limit)>;

  // `on_fire` gets the run it fires for (CronSchedule::RunOf: the same on every server with
  // this schedule).
  Scheduler(CronSchedule schedule, const Clock& clock, std::function<void(SystemTime)> on_fire,
            Jitter jitter = {});
  ~Scheduler();

  void Start();
  void Stop();  // idempotent; waits for a running callback to return
  std::optional<SystemTime> NextRun() const;
  const CronSchedule& schedule() const { return schedule_; }

 private:
  void Loop();
  // Waits until the injected clock reaches `when`; false when stopping. Holds `lock`.
  bool WaitUntil(std::unique_lock<std::mutex>& lock, SystemTime when);

  CronSchedule schedule_;
  const Clock& clock_;
  std::function<void(SystemTime)> on_fire_;
  Jitter jitter_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<SystemTime> next_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace snapd
