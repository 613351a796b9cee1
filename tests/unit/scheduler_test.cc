// The scheduler's jitter: its limit (k3s's 5 s, a tenth of short intervals) and a fire that
// comes after its cron time by the jitter drawn, carrying that cron time.
#include "backup/scheduler.h"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <vector>

using namespace snapd;
using namespace std::chrono_literals;

namespace {

SystemTime At(int64_t unix_seconds) {
  return SystemTime(std::chrono::seconds(unix_seconds));
}

}  // namespace

TEST_CASE("jitter is at most k3s's 5 s and a tenth of the interval", "[scheduler]") {
  const SystemTime fire = At(1700000000);
  CHECK(ScheduleJitterLimit(fire, fire + 12h) == 5000ms);
  CHECK(ScheduleJitterLimit(fire, fire + 50s) == 5000ms);
  CHECK(ScheduleJitterLimit(fire, fire + 30s) == 3000ms);
  CHECK(ScheduleJitterLimit(fire, fire + 1s) == 100ms);
  CHECK(ScheduleJitterLimit(fire, std::nullopt) == 0ms);
  CHECK(ScheduleJitterLimit(fire, fire) == 0ms);
}

TEST_CASE("a fire comes its jitter after the cron time it carries", "[scheduler]") {
  SystemClock clock;
  std::mutex mutex;
  std::condition_variable fired_cv;
  std::vector<std::pair<SystemTime, SystemTime>> fires;  // (cron time, when it fired)
  std::vector<std::chrono::milliseconds> limits;
  Scheduler scheduler(
      CronSchedule::Parse("@every 1s"), clock,
      [&](SystemTime cron_time) {
        std::lock_guard lock(mutex);
        fires.emplace_back(cron_time, clock.Now());
        fired_cv.notify_all();
      },
      [&](std::chrono::milliseconds limit) {
        std::lock_guard lock(mutex);
        limits.push_back(limit);
        return limit;  // the longest delay allowed
      });
  const SystemTime started = clock.Now();
  scheduler.Start();
  {
    std::unique_lock lock(mutex);
    REQUIRE(fired_cv.wait_for(lock, 20s, [&] { return fires.size() >= 2; }));
  }
  scheduler.Stop();
  std::lock_guard lock(mutex);
  REQUIRE(limits.size() >= 2);
  CHECK(limits[0] == 100ms);
  CHECK(fires[0].first > started);
  for (const auto& [cron_time, when] : fires) CHECK(when - cron_time >= 100ms);
  // The next cron time is counted from the end of the run before (a run that outlasts a fire
  // time skips it), so at least one interval later.
  CHECK(fires[1].first - fires[0].first >= 1s);
}
