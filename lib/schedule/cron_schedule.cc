// Cron spec prefixes and descriptors, and the next fire time across a zone's offset changes.
#include "schedule/cron_schedule.h"

#include <date/tz.h>

#include <algorithm>

#include "core/error.h"
#include "schedule/go_duration.h"
#include "schedule/time_zone.h"

namespace snapd {
namespace {

// Covers the longest gap between leap days (2096-02-29 to 2104-02-29) with room to spare.
constexpr std::chrono::seconds kSearchSpan = std::chrono::days(9 * 366);

bool IsSpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The 5-field equivalent of a descriptor, or empty if `name` is not one.
std::string_view DescriptorFields(std::string_view name) {
  if (name == "@yearly" || name == "@annually") return "0 0 1 1 *";
  if (name == "@monthly") return "0 0 1 * *";
  if (name == "@weekly") return "0 0 * * 0";
  if (name == "@daily" || name == "@midnight") return "0 0 * * *";
  if (name == "@hourly") return "0 * * * *";
  return {};
}

std::chrono::nanoseconds ParseEvery(std::string_view duration_text) {
  if (duration_text.empty())
    throw Error::InvalidInput("@every needs a duration, e.g. @every 1h30m");
  std::chrono::nanoseconds every = ParseGoDuration(duration_text);
  if (every <= std::chrono::nanoseconds(0)) {
    throw Error::InvalidInput("@every needs a positive duration, got \"" +
                              std::string(duration_text) + "\"");
  }
  // robfig: at least one second, and whole seconds.
  every = std::max<std::chrono::nanoseconds>(every, std::chrono::seconds(1));
  return std::chrono::floor<std::chrono::seconds>(every);
}

CivilMinute FloorCivil(date::sys_seconds t, std::chrono::seconds offset) {
  return std::chrono::floor<std::chrono::minutes>(
      std::chrono::local_seconds((t + offset).time_since_epoch()));
}

CivilMinute CeilCivil(date::sys_seconds t, std::chrono::seconds offset) {
  return std::chrono::ceil<std::chrono::minutes>(
      std::chrono::local_seconds((t + offset).time_since_epoch()));
}

// Walks the zone's offset periods in time order. Within one period wall clock and UTC differ by a
// constant, so its first matching wall-clock minute is its first matching instant, and the first
// period with a match holds the answer. A wall-clock time skipped by a DST change lies in no
// period and never fires; a repeated one lies in two and fires in each, as with robfig/cron.
std::optional<SystemTime> NextInZone(const CronFields& fields, const date::time_zone& zone,
                                     SystemTime after) {
  // Results are whole seconds, so being later than `after` is being later than its whole second.
  const date::sys_seconds start = std::chrono::floor<std::chrono::seconds>(after);
  const date::sys_seconds give_up = start + kSearchSpan;
  date::sys_info period = zone.get_info(start);
  CivilMinute from = FloorCivil(start, period.offset) + std::chrono::minutes(1);
  for (;;) {
    const date::sys_seconds period_end = std::min(period.end, give_up);
    const CivilMinute limit = CeilCivil(period_end, period.offset);
    if (std::optional<CivilMinute> match = FirstMatchingMinute(fields, from, limit)) {
      return SystemTime(date::sys_seconds(match->time_since_epoch()) - period.offset);
    }
    if (period.end >= give_up) return std::nullopt;
    period = zone.get_info(period.end);
    from = CeilCivil(period.begin, period.offset);
  }
}

}  // namespace

CronSchedule CronSchedule::Parse(std::string_view spec, std::string_view default_time_zone) {
  CronSchedule schedule;
  schedule.spec_ = std::string(spec);
  try {
    std::string_view rest = Trim(spec);
    if (rest.empty()) throw Error::InvalidInput("empty spec");

    std::string_view zone_name = default_time_zone;
    bool has_zone_prefix = false;
    for (std::string_view prefix : {"CRON_TZ=", "TZ="}) {
      if (!rest.starts_with(prefix)) continue;
      size_t end = prefix.size();
      while (end < rest.size() && !IsSpace(rest[end])) ++end;
      zone_name = rest.substr(prefix.size(), end - prefix.size());
      if (zone_name.empty())
        throw Error::InvalidInput("empty time zone name after " + std::string(prefix));
      rest = Trim(rest.substr(end));
      if (rest.empty()) {
        throw Error::InvalidInput("no schedule after " + std::string(prefix) +
                                  std::string(zone_name));
      }
      has_zone_prefix = true;
      break;
    }
    schedule.zone_ =
        zone_name.empty() && !has_zone_prefix ? &LocalTimeZone() : &LocateTimeZone(zone_name);
    schedule.zone_from_prefix_ = has_zone_prefix;

    if (rest.starts_with('@')) {
      size_t end = 0;
      while (end < rest.size() && !IsSpace(rest[end])) ++end;
      const std::string_view name = rest.substr(0, end);
      const std::string_view argument = Trim(rest.substr(end));
      if (name == "@every") {
        schedule.every_ = ParseEvery(argument);
        return schedule;
      }
      if (name == "@reboot") {
        throw Error::InvalidInput("@reboot is not supported: snapshots need a repeating schedule");
      }
      const std::string_view fields = DescriptorFields(name);
      if (fields.empty()) {
        throw Error::InvalidInput("unknown descriptor \"" + std::string(name) +
                                  "\" (want @yearly, @annually, @monthly, @weekly, @daily, "
                                  "@midnight, @hourly or @every <duration>)");
      }
      if (!argument.empty()) {
        throw Error::InvalidInput("unexpected \"" + std::string(argument) + "\" after " +
                                  std::string(name));
      }
      schedule.fields_ = ParseCronFields(fields);
      return schedule;
    }
    schedule.fields_ = ParseCronFields(rest);
    return schedule;
  } catch (const Error& e) {
    throw e.WithContext("cron spec \"" + std::string(spec) + "\"");
  }
}

std::optional<SystemTime> CronSchedule::Next(SystemTime after) const {
  if (every_) {
    // A long @every (up to Go's 292 years) from now overflows SystemTime's nanoseconds.
    const SystemTime start = std::chrono::floor<std::chrono::seconds>(after);
    if (start > SystemTime::max() - *every_) return std::nullopt;  // every_ >= 1 s
    return start + *every_;
  }
  return NextInZone(fields_, *zone_, after);
}

SystemTime CronSchedule::RunOf(SystemTime fire) const {
  if (!every_) return fire;
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::nanoseconds>(fire.time_since_epoch());
  return SystemTime(since_epoch - since_epoch % *every_);
}

std::string_view CronSchedule::time_zone_name() const {
  return zone_->name();
}

}  // namespace snapd
