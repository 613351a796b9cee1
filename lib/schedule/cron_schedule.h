// A snapshot schedule as k3s reads etcd-snapshot-schedule-cron (robfig/cron v3's standard
// parser): parsing with clear errors, and the next fire time in the schedule's time zone.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "schedule/cron_fields.h"

namespace date {
class time_zone;
}

namespace snapd {

// Accepted specs:
//   [CRON_TZ=<zone> | TZ=<zone>] <minute> <hour> <day-of-month> <month> <day-of-week>
//   [CRON_TZ=<zone> | TZ=<zone>] @yearly | @annually | @monthly | @weekly | @daily | @midnight
//                                | @hourly | @every <Go duration>
// Fields take *, ?, n, a-b, */n, a-b/n, a/n (a up to the field's maximum) and comma lists of
// those; months JAN-DEC and weekdays SUN-SAT by name, any case. Day-of-week is 0-6 with 0 Sunday;
// 7 is rejected, as robfig does. When both day fields are restricted a day matching either fires;
// as in robfig, a field is unrestricted only if it has an item * or ? without a step above 1 (so
// "*/2" is restricted). Descriptors are lower case only, as in robfig.
// Deliberate differences from robfig, all rejecting what is almost surely a mistake: empty list
// items ("1,,2"), "@every" with a duration <= 0, an empty zone name; a sign on a number.
class CronSchedule {
 public:
  // Parses a spec; throws Error::InvalidInput with a one-line message naming what is wrong
  // (e.g. "cron spec \"61 * * * *\": minute 61 out of range 0-59").
  // default_time_zone: IANA name used when the spec has no CRON_TZ=/TZ= prefix; empty means the
  // machine's local zone (see LocalTimeZone()).
  static CronSchedule Parse(std::string_view spec, std::string_view default_time_zone = "");

  // The first fire time strictly after `after`; std::nullopt if it never fires within the next
  // nine years (e.g. "0 0 30 2 *"). Field specs fire on whole minutes of the zone's wall clock: a
  // wall-clock time skipped by a DST change does not fire, one repeated fires at each occurrence.
  // "@every d" fires at the whole second before `after` plus d (robfig's ConstantDelaySchedule),
  // d truncated to whole seconds and at least 1 s; std::nullopt when that is past SystemTime's
  // range (the year 2262).
  std::optional<SystemTime> Next(SystemTime after) const;
  // The run a fire time stands for, the same on every server with this schedule: the fire time
  // itself for field specs (every server fires on the same wall-clock minutes); for "@every d",
  // the start of the d-long period since the Unix epoch that holds it, since each server counts
  // its @every from its own start and so fires once in every such period, at its own moment.
  SystemTime RunOf(SystemTime fire) const;

  const std::string& spec() const { return spec_; }
  // The zone's name as looked up, e.g. "Europe/Berlin".
  std::string_view time_zone_name() const;
  // The zone its CRON_TZ=/TZ= prefix names; null when the spec has none.
  const date::time_zone* prefix_time_zone() const { return zone_from_prefix_ ? zone_ : nullptr; }

 private:
  CronSchedule() = default;

  std::string spec_;
  const date::time_zone* zone_ = nullptr;  // owned by the date library's tz database
  bool zone_from_prefix_ = false;
  CronFields fields_;
  std::optional<std::chrono::nanoseconds> every_;  // set for "@every"
};

}  // namespace snapd
