// Tests of lib/schedule: cron spec parsing, next fire times (with DST), Go durations.
#include <catch2/catch.hpp>

#include <date/tz.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "schedule/cron_schedule.h"
#include "schedule/go_duration.h"

using namespace snapd;
using namespace std::chrono_literals;

namespace {

// "2024-03-10T07:00:00Z" (optionally with ".fraction" nanoseconds) -> instant.
SystemTime At(const char* iso) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  long nanos = 0;
  REQUIRE(std::sscanf(iso, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6);
  if (const char* dot = std::strchr(iso, '.')) {
    long scale = 100'000'000;
    for (const char* p = dot + 1; *p >= '0' && *p <= '9'; ++p, scale /= 10)
      nanos += (*p - '0') * scale;
  }
  return std::chrono::sys_days(std::chrono::year(y) / mo / d) + std::chrono::hours(h) +
         std::chrono::minutes(mi) + std::chrono::seconds(s) + std::chrono::nanoseconds(nanos);
}

std::string Iso(std::optional<SystemTime> t) {
  if (!t) return "never";
  const auto day = std::chrono::floor<std::chrono::days>(*t);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss hms(*t - day);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02ld", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), long(hms.hours().count()),
                long(hms.minutes().count()), long(hms.seconds().count()));
  std::string out = text;
  if (hms.subseconds() != 0ns) out += "." + std::to_string(hms.subseconds().count());
  return out + "Z";
}

// The first `count` fire times after `after`, each from the previous one.
std::vector<std::string> Fires(const CronSchedule& schedule, const char* after, int count) {
  std::vector<std::string> out;
  std::optional<SystemTime> t = At(after);
  for (int i = 0; i < count && t; ++i) {
    t = schedule.Next(*t);
    out.push_back(Iso(t));
  }
  return out;
}

std::vector<std::string> Fires(std::string_view spec, const char* after, int count,
                               std::string_view zone = "UTC") {
  return Fires(CronSchedule::Parse(spec, zone), after, count);
}

std::string NextAfter(std::string_view spec, const char* after, std::string_view zone = "UTC") {
  return Iso(CronSchedule::Parse(spec, zone).Next(At(after)));
}

std::string ParseError(std::string_view spec, std::string_view zone = "UTC") {
  try {
    CronSchedule::Parse(spec, zone);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    return e.what();
  }
  return "no error";
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("cron parse errors name the problem", "[cron]") {
  CHECK(ParseError("0 * * *") ==
        "cron spec \"0 * * *\": expected 5 fields (minute hour day-of-month month day-of-week), "
        "found 4");
  CHECK(ParseError("0 0 0 * * *") ==
        "cron spec \"0 0 0 * * *\": expected 5 fields (minute hour day-of-month month "
        "day-of-week), found 6");
  CHECK(ParseError("") == "cron spec \"\": empty spec");
  CHECK(ParseError("61 * * * *") == "cron spec \"61 * * * *\": minute 61 out of range 0-59");
  CHECK(ParseError("0 24 * * *") == "cron spec \"0 24 * * *\": hour 24 out of range 0-23");
  CHECK(ParseError("0 0 0 * *") == "cron spec \"0 0 0 * *\": day-of-month 0 out of range 1-31");
  CHECK(ParseError("0 0 32 * *") == "cron spec \"0 0 32 * *\": day-of-month 32 out of range 1-31");
  CHECK(ParseError("0 0 * 13 *") == "cron spec \"0 0 * 13 *\": month 13 out of range 1-12");
  CHECK(ParseError("0 0 * * 7") ==
        "cron spec \"0 0 * * 7\": day-of-week 7 out of range 0-6 (use 0 or SUN for Sunday)");
  CHECK(ParseError("0 0 * * 1-7") ==
        "cron spec \"0 0 * * 1-7\": day-of-week 7 out of range 0-6 (use 0 or SUN for Sunday)");
  CHECK(ParseError("99999999999 * * * *") ==
        "cron spec \"99999999999 * * * *\": minute 99999999999 out of range 0-59");
  CHECK(ParseError("*/0 * * * *") ==
        "cron spec \"*/0 * * * *\": minute step in \"*/0\" must be a positive number");
  CHECK(ParseError("0 */x * * *") ==
        "cron spec \"0 */x * * *\": hour step in \"*/x\" must be a positive number");
  CHECK(ParseError("0 1/ * * *") ==
        "cron spec \"0 1/ * * *\": hour step in \"1/\" must be a positive number");
  CHECK(ParseError("1/2/3 * * * *") ==
        "cron spec \"1/2/3 * * * *\": minute \"1/2/3\" has more "
        "than one \"/\"");
  CHECK(ParseError("1-2-3 * * * *") ==
        "cron spec \"1-2-3 * * * *\": minute \"1-2-3\" has more "
        "than one \"-\"");
  CHECK(ParseError("5-3 * * * *") ==
        "cron spec \"5-3 * * * *\": minute range \"5-3\" runs "
        "backwards");
  CHECK(ParseError("0 0 * DEC-JAN *") ==
        "cron spec \"0 0 * DEC-JAN *\": month range \"DEC-JAN\" runs backwards");
  CHECK(ParseError("-5 * * * *") ==
        "cron spec \"-5 * * * *\": minute \"-5\" is not a number or "
        "range");
  CHECK(ParseError("x * * * *") == "cron spec \"x * * * *\": minute \"x\" is not a number");
  CHECK(ParseError("jan * * * *") == "cron spec \"jan * * * *\": minute \"jan\" is not a number");
  CHECK(ParseError("0 0 * FOO *") ==
        "cron spec \"0 0 * FOO *\": month \"FOO\" is not a number or month name (jan-dec)");
  CHECK(ParseError("0 0 * january *") ==
        "cron spec \"0 0 * january *\": month \"january\" is not a number or month name "
        "(jan-dec)");
  CHECK(ParseError("0 0 * * FUNDAY") ==
        "cron spec \"0 0 * * FUNDAY\": day-of-week \"FUNDAY\" is not a number or day-of-week "
        "name (sun-sat)");
  CHECK(ParseError("0 0 * * MON,") ==
        "cron spec \"0 0 * * MON,\": day-of-week list \"MON,\" has an empty item");
  CHECK(ParseError("1,,2 * * * *") ==
        "cron spec \"1,,2 * * * *\": minute list \"1,,2\" has an empty item");
}

TEST_CASE("cron prefix and descriptor errors", "[cron]") {
  CHECK(ParseError("CRON_TZ=Mars/Olympus_Mons 0 * * * *") ==
        "cron spec \"CRON_TZ=Mars/Olympus_Mons 0 * * * *\": unknown time zone "
        "\"Mars/Olympus_Mons\"");
  CHECK(ParseError("TZ=Nowhere 0 * * * *") ==
        "cron spec \"TZ=Nowhere 0 * * * *\": unknown time zone \"Nowhere\"");
  CHECK(ParseError("0 * * * *", "Not/AZone") ==
        "cron spec \"0 * * * *\": unknown time zone \"Not/AZone\"");
  CHECK(ParseError("CRON_TZ=UTC") == "cron spec \"CRON_TZ=UTC\": no schedule after CRON_TZ=UTC");
  CHECK(ParseError("CRON_TZ= 0 * * * *") ==
        "cron spec \"CRON_TZ= 0 * * * *\": empty time zone name after CRON_TZ=");
  CHECK(ParseError("CRON_TZ=UTC 61 * * * *") ==
        "cron spec \"CRON_TZ=UTC 61 * * * *\": minute 61 out of range 0-59");
  CHECK(ParseError("@reboot") ==
        "cron spec \"@reboot\": @reboot is not supported: snapshots need a repeating schedule");
  CHECK(ParseError("@fortnightly") ==
        "cron spec \"@fortnightly\": unknown descriptor \"@fortnightly\" (want @yearly, "
        "@annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)");
  // Descriptors are lower case only, as in robfig/cron.
  CHECK(ParseError("@Daily").find("unknown descriptor \"@Daily\"") != std::string::npos);
  CHECK(ParseError("@daily 5") == "cron spec \"@daily 5\": unexpected \"5\" after @daily");
  CHECK(ParseError("@every") == "cron spec \"@every\": @every needs a duration, e.g. @every 1h30m");
  CHECK(ParseError("@every 5") ==
        "cron spec \"@every 5\": invalid duration \"5\": missing unit (ns, us, ms, s, m or h)");
  CHECK(ParseError("@every 1x") ==
        "cron spec \"@every 1x\": invalid duration \"1x\": unknown unit \"x\"");
  CHECK(ParseError("@every -1m") ==
        "cron spec \"@every -1m\": @every needs a positive duration, got \"-1m\"");
  CHECK(ParseError("@every 0s") ==
        "cron spec \"@every 0s\": @every needs a positive duration, got \"0s\"");
}

TEST_CASE("cron accepts valid specs and keeps them", "[cron]") {
  const CronSchedule schedule = CronSchedule::Parse("  CRON_TZ=Europe/Berlin 0 */12 * * *  ");
  CHECK(schedule.spec() == "  CRON_TZ=Europe/Berlin 0 */12 * * *  ");
  CHECK(schedule.time_zone_name() == "Europe/Berlin");
  CHECK(CronSchedule::Parse("0 0 * * *", "Asia/Kolkata").time_zone_name() == "Asia/Kolkata");
  // Calendar retention follows only a zone the spec names.
  REQUIRE(schedule.prefix_time_zone() != nullptr);
  CHECK(schedule.prefix_time_zone()->name() == "Europe/Berlin");
  CHECK(CronSchedule::Parse("TZ=UTC @hourly").prefix_time_zone() != nullptr);
  CHECK(CronSchedule::Parse("0 0 * * *", "Asia/Kolkata").prefix_time_zone() == nullptr);
  CHECK(CronSchedule::Parse("@every 1h").prefix_time_zone() == nullptr);
  for (const char* spec :
       {"* * * * *", "? ? ? ? ?", "0-59 0-23 1-31 1-12 0-6", "*/1 * * * *", "0 0 * jan-DEC sun-sat",
        "0\t0 *  * *", "59 23 31 12 6", "0 0 1,15 * *", "*/100 * * * *", "@every 1m30s",
        "TZ=UTC @hourly", "CRON_TZ=Local 0 0 * * *"}) {
    INFO(spec);
    CHECK_NOTHROW(CronSchedule::Parse(spec, "UTC"));
  }
}

TEST_CASE("cron k3s default fires at 00:00 and 12:00", "[cron]") {
  CHECK(Fires("0 */12 * * *", "2024-05-01T10:15:00Z", 3) ==
        Strings{"2024-05-01T12:00:00Z", "2024-05-02T00:00:00Z", "2024-05-02T12:00:00Z"});
  // Strictly after: a time that is itself a fire time is not returned.
  CHECK(NextAfter("0 */12 * * *", "2024-05-01T12:00:00Z") == "2024-05-02T00:00:00Z");
  CHECK(NextAfter("0 */12 * * *", "2024-12-31T23:59:59.5Z") == "2025-01-01T00:00:00Z");
}

TEST_CASE("cron every minute", "[cron]") {
  CHECK(NextAfter("* * * * *", "2024-01-01T00:00:00Z") == "2024-01-01T00:01:00Z");
  CHECK(NextAfter("* * * * *", "2024-01-01T00:00:30Z") == "2024-01-01T00:01:00Z");
  CHECK(NextAfter("* * * * *", "2024-01-01T00:00:59.999999999Z") == "2024-01-01T00:01:00Z");
  CHECK(NextAfter("* * * * *", "2024-01-01T00:00:00.000000001Z") == "2024-01-01T00:01:00Z");
  CHECK(NextAfter("* * * * *", "2024-02-29T23:59:00Z") == "2024-03-01T00:00:00Z");
  CHECK(NextAfter("* * * * *", "1969-12-31T23:59:30Z") == "1970-01-01T00:00:00Z");
}

TEST_CASE("cron steps, ranges, lists and names", "[cron]") {
  CHECK(Fires("*/15 * * * *", "2024-05-01T10:07:00Z", 4) ==
        Strings{"2024-05-01T10:15:00Z", "2024-05-01T10:30:00Z", "2024-05-01T10:45:00Z",
                "2024-05-01T11:00:00Z"});
  // "a/n" runs from a to the maximum: 5, 25, 45.
  CHECK(Fires("5/20 * * * *", "2024-05-01T10:00:00Z", 4) ==
        Strings{"2024-05-01T10:05:00Z", "2024-05-01T10:25:00Z", "2024-05-01T10:45:00Z",
                "2024-05-01T11:05:00Z"});
  CHECK(Fires("10-20/5 8-9 * * *", "2024-05-01T09:15:00Z", 3) ==
        Strings{"2024-05-01T09:20:00Z", "2024-05-02T08:10:00Z", "2024-05-02T08:15:00Z"});
  CHECK(Fires("0 9,17 * * *", "2024-05-01T09:00:00Z", 3) ==
        Strings{"2024-05-01T17:00:00Z", "2024-05-02T09:00:00Z", "2024-05-02T17:00:00Z"});
  CHECK(Fires("30 1-3,22 * * *", "2024-05-01T02:31:00Z", 3) ==
        Strings{"2024-05-01T03:30:00Z", "2024-05-01T22:30:00Z", "2024-05-02T01:30:00Z"});
  // 2024-01-31 is a Wednesday; 2024-07-01 a Monday, 2024-07-05 a Friday.
  CHECK(Fires("0 0 * JAN,jul mon-FRI", "2024-01-31T12:00:00Z", 2) ==
        Strings{"2024-07-01T00:00:00Z", "2024-07-02T00:00:00Z"});
  CHECK(NextAfter("0 0 * JAN,jul mon-FRI", "2024-07-05T00:00:00Z") == "2024-07-08T00:00:00Z");
  // 2024-05-01 is a Wednesday.
  CHECK(NextAfter("0 12 * * sun", "2024-05-01T00:00:00Z") == "2024-05-05T12:00:00Z");
  CHECK(NextAfter("0 12 * * 0", "2024-05-01T00:00:00Z") == "2024-05-05T12:00:00Z");
  CHECK(NextAfter("0 12 * * Sat", "2024-05-01T00:00:00Z") == "2024-05-04T12:00:00Z");
  CHECK(NextAfter("0 0 1 */3 *", "2024-05-01T00:00:00Z") == "2024-07-01T00:00:00Z");
  CHECK(NextAfter("0 0 1 feb/6 *", "2024-09-01T00:00:00Z") == "2025-02-01T00:00:00Z");
  CHECK(NextAfter("59 23 31 12 *", "2024-05-01T00:00:00Z") == "2024-12-31T23:59:00Z");
}

TEST_CASE("cron day-of-month and day-of-week: either when both restricted", "[cron]") {
  // 2024-09-01 is a Sunday; Fridays are the 6th, 13th, 20th. The 10th is a Tuesday.
  CHECK(Fires("0 0 10 * 5", "2024-09-01T00:00:00Z", 3) ==
        Strings{"2024-09-06T00:00:00Z", "2024-09-10T00:00:00Z", "2024-09-13T00:00:00Z"});
  CHECK(Fires("0 0 10 * *", "2024-09-01T00:00:00Z", 2) ==
        Strings{"2024-09-10T00:00:00Z", "2024-10-10T00:00:00Z"});
  CHECK(Fires("0 0 * * 5", "2024-09-01T00:00:00Z", 2) ==
        Strings{"2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z"});
  // * or ? (or */1) leave the field unrestricted: both must match, so only Fridays.
  CHECK(Fires("0 0 ? * 5", "2024-09-01T00:00:00Z", 2) ==
        Strings{"2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z"});
  CHECK(Fires("0 0 */1 * 5", "2024-09-01T00:00:00Z", 2) ==
        Strings{"2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z"});
  // robfig counts */2 as restricted: odd days or Fridays.
  CHECK(Fires("0 0 */2 * 5", "2024-09-01T00:00:00Z", 4) ==
        Strings{"2024-09-03T00:00:00Z", "2024-09-05T00:00:00Z", "2024-09-06T00:00:00Z",
                "2024-09-07T00:00:00Z"});
  // A full range is still a restriction: every day matches day-of-month.
  CHECK(NextAfter("0 0 1-31 * 5", "2024-09-01T00:00:00Z") == "2024-09-02T00:00:00Z");
  // Restricted day-of-week rescues an impossible day-of-month: Mondays in February.
  CHECK(NextAfter("0 0 30 2 1", "2024-01-01T00:00:00Z") == "2024-02-05T00:00:00Z");
}

TEST_CASE("cron descriptors", "[cron]") {
  // 2024-05-15 is a Wednesday.
  const char* after = "2024-05-15T10:30:00Z";
  CHECK(NextAfter("@hourly", after) == "2024-05-15T11:00:00Z");
  CHECK(NextAfter("@daily", after) == "2024-05-16T00:00:00Z");
  CHECK(NextAfter("@midnight", after) == "2024-05-16T00:00:00Z");
  CHECK(NextAfter("@weekly", after) == "2024-05-19T00:00:00Z");
  CHECK(NextAfter("@monthly", after) == "2024-06-01T00:00:00Z");
  CHECK(NextAfter("@yearly", after) == "2025-01-01T00:00:00Z");
  CHECK(NextAfter("@annually", after) == "2025-01-01T00:00:00Z");
  CHECK(NextAfter("CRON_TZ=Asia/Kolkata @daily", after) == "2024-05-15T18:30:00Z");
}

TEST_CASE("a fire's run is the same on every server", "[cron]") {
  auto run = [](std::string_view spec, const char* fire) {
    return Iso(CronSchedule::Parse(spec, "UTC").RunOf(At(fire)));
  };
  // Field specs fire on the same minutes everywhere: the fire time is the run.
  CHECK(run("*/5 * * * *", "2024-05-15T10:35:00Z") == "2024-05-15T10:35:00Z");
  // @every counts from each server's start: the period since the epoch that holds the fire.
  CHECK(run("@every 3s", "2024-05-15T10:30:04Z") == "2024-05-15T10:30:03Z");
  CHECK(run("@every 3s", "2024-05-15T10:30:05Z") == "2024-05-15T10:30:03Z");
  CHECK(run("@every 3s", "2024-05-15T10:30:06Z") == "2024-05-15T10:30:06Z");
  CHECK(run("@every 1m30s", "2024-05-15T10:31:00Z") == "2024-05-15T10:30:00Z");
  // Two servers started 1.5 s apart fire once each in every 3 s period, at different moments.
  const CronSchedule every = CronSchedule::Parse("@every 3s", "UTC");
  std::vector<std::string> a, b;
  SystemTime ta = At("2024-05-15T10:30:00Z"), tb = At("2024-05-15T10:30:01.5Z");
  for (int i = 0; i < 4; ++i) {
    ta = *every.Next(ta);
    tb = *every.Next(tb);
    a.push_back(Iso(every.RunOf(ta)));
    b.push_back(Iso(every.RunOf(tb)));
  }
  CHECK(a == b);
}

TEST_CASE("cron @every counts from the whole second", "[cron]") {
  CHECK(Fires("@every 2s", "2024-05-15T10:30:00.25Z", 3) ==
        Strings{"2024-05-15T10:30:02Z", "2024-05-15T10:30:04Z", "2024-05-15T10:30:06Z"});
  CHECK(Fires("@every 1h30m", "2024-05-15T10:30:00Z", 2) ==
        Strings{"2024-05-15T12:00:00Z", "2024-05-15T13:30:00Z"});
  CHECK(NextAfter("@every 1m30s", "2024-05-15T10:30:00.999Z") == "2024-05-15T10:31:30Z");
  // Under a second becomes a second; fractions of a second are dropped.
  CHECK(NextAfter("@every 500ms", "2024-05-15T10:30:00.7Z") == "2024-05-15T10:30:01Z");
  CHECK(NextAfter("@every 1.9s", "2024-05-15T10:30:00Z") == "2024-05-15T10:30:01Z");
  // The zone does not matter for a fixed interval.
  CHECK(NextAfter("CRON_TZ=America/New_York @every 1h", "2024-11-03T05:30:00Z") ==
        "2024-11-03T06:30:00Z");
  // Go durations reach 292 years; past 2262 a time point overflows (found by fuzzing).
  CHECK(NextAfter("@every 2000000h", "2024-05-15T10:30:00Z") == "2252-07-12T18:30:00Z");
  CHECK(NextAfter("@every 2562047h47m16s", "2024-05-15T10:30:00Z") == "never");
}

TEST_CASE("cron leap days and specs that never fire", "[cron]") {
  CHECK(NextAfter("0 0 29 2 *", "2024-03-01T00:00:00Z") == "2028-02-29T00:00:00Z");
  CHECK(NextAfter("0 0 29 2 *", "2024-02-28T12:00:00Z") == "2024-02-29T00:00:00Z");
  // 2100 is not a leap year: eight years between leap days.
  CHECK(NextAfter("0 0 29 2 *", "2096-03-01T00:00:00Z") == "2104-02-29T00:00:00Z");
  CHECK(NextAfter("0 0 30 2 *", "2024-01-01T00:00:00Z") == "never");
  CHECK(NextAfter("0 0 31 4,6,9,11 *", "2024-01-01T00:00:00Z") == "never");
  CHECK(NextAfter("CRON_TZ=America/New_York 0 0 30 2 *", "2024-01-01T00:00:00Z") == "never");
}

TEST_CASE("cron in New York across DST changes", "[cron]") {
  // 2024-03-10 02:00 EST (07:00Z) jumps to 03:00 EDT: 02:30 does not exist that day.
  const auto spring = CronSchedule::Parse("CRON_TZ=America/New_York 30 2 * * *");
  CHECK(Fires(spring, "2024-03-09T00:00:00Z", 2) ==
        Strings{"2024-03-09T07:30:00Z", "2024-03-11T06:30:00Z"});
  CHECK(Fires("0 * * * *", "2024-03-10T05:30:00Z", 3, "America/New_York") ==
        Strings{"2024-03-10T06:00:00Z", "2024-03-10T07:00:00Z", "2024-03-10T08:00:00Z"});
  CHECK(NextAfter("*/30 * * * *", "2024-03-10T06:45:00Z", "America/New_York") ==
        "2024-03-10T07:00:00Z");
  CHECK(Fires("0 0 * * *", "2024-03-10T04:00:00Z", 2, "America/New_York") ==
        Strings{"2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z"});

  // 2024-11-03 02:00 EDT (06:00Z) falls back to 01:00 EST: 01:30 happens twice.
  const auto fall = CronSchedule::Parse("CRON_TZ=America/New_York 30 1 * * *");
  CHECK(Fires(fall, "2024-11-02T12:00:00Z", 3) ==
        Strings{"2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z", "2024-11-04T06:30:00Z"});
  CHECK(Fires("0 * * * *", "2024-11-03T04:30:00Z", 3, "America/New_York") ==
        Strings{"2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z", "2024-11-03T07:00:00Z"});
  // From inside the repeated hour's second pass, only later instants count.
  CHECK(NextAfter("CRON_TZ=America/New_York 15 1 * * *", "2024-11-03T06:10:00Z") ==
        "2024-11-03T06:15:00Z");
  CHECK(NextAfter("CRON_TZ=America/New_York 15 1 * * *", "2024-11-03T06:20:00Z") ==
        "2024-11-04T06:15:00Z");
}

TEST_CASE("cron zone prefixes and defaults", "[cron]") {
  CHECK(NextAfter("TZ=America/New_York 0 12 * * *", "2024-07-01T00:00:00Z") ==
        "2024-07-01T16:00:00Z");
  CHECK(NextAfter("TZ=America/New_York 0 12 * * *", "2024-01-01T00:00:00Z") ==
        "2024-01-01T17:00:00Z");
  // The prefix wins over the default zone.
  CHECK(NextAfter("CRON_TZ=UTC 0 12 * * *", "2024-07-01T00:00:00Z", "America/New_York") ==
        "2024-07-01T12:00:00Z");
  CHECK(NextAfter("0 12 * * *", "2024-07-01T00:00:00Z", "America/New_York") ==
        "2024-07-01T16:00:00Z");
}

TEST_CASE("cron in zones with half-hour offsets", "[cron]") {
  // Kolkata is +05:30 all year.
  CHECK(Fires("CRON_TZ=Asia/Kolkata 0 0 * * *", "2024-05-01T00:00:00Z", 2) ==
        Strings{"2024-05-01T18:30:00Z", "2024-05-02T18:30:00Z"});
  // Adelaide: +09:30 in July; on 2024-04-07 03:00 ACDT (+10:30, 16:30Z) clocks go back to
  // 02:00 ACST, so 02:30 happens at 16:00Z and again at 17:00Z.
  CHECK(NextAfter("CRON_TZ=Australia/Adelaide 0 9 * * *", "2024-07-01T00:00:00Z") ==
        "2024-07-01T23:30:00Z");
  CHECK(Fires("CRON_TZ=Australia/Adelaide 30 2 * * *", "2024-04-06T12:00:00Z", 3) ==
        Strings{"2024-04-06T16:00:00Z", "2024-04-06T17:00:00Z", "2024-04-07T17:00:00Z"});
}

namespace {

// Sets $TZ for one test and puts the old value back.
class ScopedTz {
 public:
  explicit ScopedTz(const char* value) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", value, 1);
  }
  ~ScopedTz() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
  }

 private:
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("cron without a zone uses the local zone as Go picks it", "[cron]") {
  {
    ScopedTz tz("Asia/Kolkata");
    const auto schedule = CronSchedule::Parse("0 0 * * *");
    CHECK(schedule.time_zone_name() == "Asia/Kolkata");
    CHECK(Iso(schedule.Next(At("2024-05-01T00:00:00Z"))) == "2024-05-01T18:30:00Z");
  }
  {
    ScopedTz tz(":Europe/Berlin");
    CHECK(CronSchedule::Parse("0 0 * * *").time_zone_name() == "Europe/Berlin");
  }
  {
    ScopedTz tz("");  // set but empty: UTC
    CHECK(NextAfter("0 0 * * *", "2024-05-01T10:00:00Z", "") == "2024-05-02T00:00:00Z");
  }
  {
    ScopedTz tz("Not/AZone");  // unknown: UTC, as Go does
    CHECK(NextAfter("0 0 * * *", "2024-05-01T10:00:00Z", "") == "2024-05-02T00:00:00Z");
  }
}

TEST_CASE("cron next agrees with a minute-by-minute walk through a year", "[cron]") {
  // Each spec with a predicate written independently over the zone's wall clock; the walk goes
  // through every UTC minute of 2024 (New York offsets are whole hours, so wall-clock minutes
  // and UTC minutes line up) and expects Next to step exactly through the matching ones.
  struct Case {
    const char* spec;
    std::function<bool(const std::chrono::year_month_day&, std::chrono::weekday, int, int)> match;
  };
  const std::vector<Case> cases = {
      {"*/7 3-5 * * *", [](auto&, auto, int h, int m) { return m % 7 == 0 && h >= 3 && h <= 5; }},
      {"0 0 10 * 5",
       [](auto& d, auto wd, int h, int m) {
         return h == 0 && m == 0 && (unsigned(d.day()) == 10 || wd == std::chrono::Friday);
       }},
      {"15 2 * * 0",
       [](auto&, auto wd, int h, int m) { return h == 2 && m == 15 && wd == std::chrono::Sunday; }},
      {"45 1 * * sun",
       [](auto&, auto wd, int h, int m) { return h == 1 && m == 45 && wd == std::chrono::Sunday; }},
      {"0 0 1 mar,nov *",
       [](auto& d, auto, int h, int m) {
         return h == 0 && m == 0 && unsigned(d.day()) == 1 &&
                (unsigned(d.month()) == 3 || unsigned(d.month()) == 11);
       }},
  };
  const date::time_zone* zone = date::locate_zone("America/New_York");
  for (const Case& c : cases) {
    INFO(c.spec);
    const CronSchedule schedule = CronSchedule::Parse(c.spec, "America/New_York");
    const SystemTime begin = At("2024-01-01T00:00:00Z");
    const SystemTime end = At("2025-01-01T00:00:00Z");
    std::optional<SystemTime> expected_next = schedule.Next(begin);
    int fired = 0;
    for (SystemTime t = begin + 1min; t < end; t += 1min) {
      const auto local = zone->to_local(std::chrono::floor<std::chrono::seconds>(t));
      const auto day = date::floor<date::days>(local);
      const date::year_month_day date_ymd(day);
      const std::chrono::year_month_day ymd{std::chrono::year(int(date_ymd.year())),
                                            std::chrono::month(unsigned(date_ymd.month())),
                                            std::chrono::day(unsigned(date_ymd.day()))};
      const date::hh_mm_ss hms(local - day);
      const std::chrono::weekday wd(date::weekday(day).c_encoding());
      if (!c.match(ymd, wd, int(hms.hours().count()), int(hms.minutes().count()))) continue;
      REQUIRE(expected_next.has_value());
      INFO(Iso(t));
      REQUIRE(Iso(*expected_next) == Iso(t));
      expected_next = schedule.Next(t);
      ++fired;
    }
    CHECK(fired > 0);
    REQUIRE(expected_next.has_value());
    CHECK(*expected_next >= end);
  }
}

TEST_CASE("go durations parse like time.ParseDuration", "[cron]") {
  CHECK(ParseGoDuration("1h30m") == 90min);
  CHECK(ParseGoDuration("1.5h") == 90min);
  CHECK(ParseGoDuration("300ms") == 300ms);
  CHECK(ParseGoDuration("2s") == 2s);
  CHECK(ParseGoDuration("-2m") == -2min);
  CHECK(ParseGoDuration("+5s") == 5s);
  CHECK(ParseGoDuration("0") == 0ns);
  CHECK(ParseGoDuration(".5s") == 500ms);
  CHECK(ParseGoDuration("5.s") == 5s);
  CHECK(ParseGoDuration("1h2m3s4ms5us6ns") == 1h + 2min + 3s + 4ms + 5us + 6ns);
  CHECK(ParseGoDuration("7\u00b5s") == 7us);
  CHECK(ParseGoDuration("7\u03bcs") == 7us);
  CHECK(ParseGoDuration("2562047h") == 2562047h);
  for (const char* bad : {"", "1", "h", "1h 30m", ".s", "-", "1hh", "1d", "2562048h", "0x"}) {
    INFO(bad);
    CHECK_THROWS_AS(ParseGoDuration(bad), Error);
  }
  // Two terms of 2^63 ns each wrapped a 64-bit sum to 0 (found by fuzzing).
  CHECK(ParseGoDuration("-9223372036854775808ns") == std::chrono::nanoseconds::min());
  CHECK_THROWS_AS(ParseGoDuration("-9223372036854775808ns9223372036854775808ns"), Error);
  CHECK_THROWS_AS(ParseGoDuration("9223372036854775807ns1ns"), Error);
  try {
    ParseGoDuration("1d");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "invalid duration \"1d\": unknown unit \"d\"");
  }
}
