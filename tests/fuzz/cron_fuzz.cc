// Fuzzes cron specs (etcd-snapshot-schedule-cron from files and flags): parsing, and the next
// fire times of whatever parses, which must move forward and land on fire times.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.h"
#include "fuzz_input.h"
#include "schedule/cron_schedule.h"

using snapd::fuzz::Check;
using namespace std::chrono_literals;

namespace {

// The search gives up after nine years (cron_schedule.h), plus a day for zone offsets.
constexpr auto kLongestWait = std::chrono::days(9 * 366 + 1);

void CheckNext(const snapd::CronSchedule& schedule, snapd::SystemTime after, bool every) {
  const std::optional<snapd::SystemTime> next = schedule.Next(after);
  if (!next) return;  // never within nine years, or (@every) not before the year 2262
  Check(*next > after, "the next fire time is after the given time");
  Check(every || *next - after <= kLongestWait, "field schedules fire within the search span");
  Check(*next == std::chrono::floor<std::chrono::seconds>(*next), "fire times are whole seconds");
  const std::optional<snapd::SystemTime> again = schedule.Next(*next - 1s);
  const std::optional<snapd::SystemTime> later = schedule.Next(*next);
  if (every) {
    // Constant delay: each fire is the delay after the whole second before the given time.
    if (later) {
      Check(*later - *next == *next - std::chrono::floor<std::chrono::seconds>(after),
            "@every keeps its delay");
    }
  } else {
    Check(again == next, "a fire time is the next one after the second before it");
    Check(!later || *later > *next, "fire times move forward");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view spec = snapd::fuzz::AsText(data, size);
  if (spec.size() > 4096) return 0;  // a config value, not a document
  std::optional<snapd::CronSchedule> schedule;
  try {
    schedule = snapd::CronSchedule::Parse(spec, "UTC");
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kInvalidInput, "bad specs are invalid input");
    return 0;
  }
  const bool every = spec.find("@every") != std::string_view::npos;
  // 2026-11-22T01:02:03.5Z and a time in the DST-heavy autumn of 2030.
  CheckNext(*schedule, snapd::SystemTime(1795395723500ms), every);
  CheckNext(*schedule, snapd::SystemTime(std::chrono::seconds(1919635199)), every);
  return 0;
}
