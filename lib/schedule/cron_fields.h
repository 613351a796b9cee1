// The five time fields of a cron spec as sets, and the search for the next wall-clock minute they
// match. Pure calendar arithmetic: time zones are the caller's business.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace snapd {

// A wall-clock minute in no particular zone.
using CivilMinute = std::chrono::local_time<std::chrono::minutes>;

struct CronFields {
  // Bit n set: value n matches.
  uint64_t minutes = 0;        // 0-59
  uint32_t hours = 0;          // 0-23
  uint32_t days_of_month = 0;  // 1-31
  uint32_t months = 0;         // 1-12
  uint32_t days_of_week = 0;   // 0-6, 0 is Sunday
  // robfig/cron's "star bit": the field has an item that is * or ? with no step above 1. When
  // either day field has it, a day must match both day fields; otherwise either one.
  bool day_of_month_star = false;
  bool day_of_week_star = false;

  bool MatchesDay(std::chrono::year_month_day date) const;
};

// Parses "<minute> <hour> <day-of-month> <month> <day-of-week>". Throws Error::InvalidInput with
// a message naming the field and the problem, e.g. "minute 61 out of range 0-59".
CronFields ParseCronFields(std::string_view text);

// The first minute in [from, limit) that `fields` match, if any.
std::optional<CivilMinute> FirstMatchingMinute(const CronFields& fields, CivilMinute from,
                                               CivilMinute limit);

}  // namespace snapd
