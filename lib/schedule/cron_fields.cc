// Parsing of the five cron fields (robfig/cron v3 rules) and the wall-clock minute search.
#include "schedule/cron_fields.h"

#include <array>
#include <bit>
#include <charconv>
#include <string>
#include <vector>

#include "core/error.h"

namespace snapd {
namespace {

struct FieldSpec {
  const char* name;
  unsigned min;
  unsigned max;
  // Lower-case names for min, min+1, ...; empty when the field has none.
  std::vector<std::string_view> names;
  const char* hint;  // appended to out-of-range messages, may be empty
};

const std::array<FieldSpec, 5>& FieldSpecs() {
  static const std::array<FieldSpec, 5> specs = {{
      {"minute", 0, 59, {}, ""},
      {"hour", 0, 23, {}, ""},
      {"day-of-month", 1, 31, {}, ""},
      {"month",
       1,
       12,
       {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
       ""},
      // robfig/cron v3 takes 0-6 only; 7 is rejected rather than silently meaning Sunday.
      {"day-of-week",
       0,
       6,
       {"sun", "mon", "tue", "wed", "thu", "fri", "sat"},
       " (use 0 or SUN for Sunday)"},
  }};
  return specs;
}

[[noreturn]] void Fail(const FieldSpec& field, const std::string& problem) {
  throw Error::InvalidInput(std::string(field.name) + " " + problem);
}

std::string Quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(separator, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool ParseUnsigned(std::string_view text, unsigned& value) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec == std::errc::result_out_of_range) value = ~0u;  // reported as out of range
  return true;
}

unsigned ParseValue(const FieldSpec& field, std::string_view text) {
  unsigned value = 0;
  if (ParseUnsigned(text, value)) {
    if (value < field.min || value > field.max) {
      Fail(field, std::string(text) + " out of range " + std::to_string(field.min) + "-" +
                      std::to_string(field.max) + field.hint);
    }
    return value;
  }
  const std::string lower = Lower(text);
  for (size_t i = 0; i < field.names.size(); ++i) {
    if (lower == field.names[i]) return field.min + static_cast<unsigned>(i);
  }
  if (field.names.empty()) Fail(field, Quoted(text) + " is not a number");
  Fail(field, Quoted(text) + " is not a number or " + field.name + " name (" +
                  std::string(field.names.front()) + "-" + std::string(field.names.back()) + ")");
}

// Adds one comma-separated item ("*", "a", "a-b", any of them with "/step") to `bits`; returns
// whether it is robfig's star (* or ? with a step of at most 1).
bool AddItem(const FieldSpec& field, std::string_view item, uint64_t& bits) {
  const std::vector<std::string_view> range_and_step = Split(item, '/');
  if (range_and_step.size() > 2) Fail(field, Quoted(item) + " has more than one \"/\"");
  const std::string_view range = range_and_step[0];

  unsigned first = field.min;
  unsigned last = field.max;
  bool star = false;
  if (range == "*" || range == "?") {
    star = true;
  } else {
    const std::vector<std::string_view> bounds = Split(range, '-');
    if (bounds.size() > 2) Fail(field, Quoted(item) + " has more than one \"-\"");
    for (std::string_view bound : bounds) {
      if (bound.empty()) Fail(field, Quoted(item) + " is not a number or range");
    }
    first = ParseValue(field, bounds[0]);
    last = first;
    if (bounds.size() == 2) {
      last = ParseValue(field, bounds[1]);
      if (first > last) Fail(field, "range " + Quoted(item) + " runs backwards");
    }
  }

  unsigned step = 1;
  if (range_and_step.size() == 2) {
    if (!ParseUnsigned(range_and_step[1], step) || step == 0) {
      Fail(field, "step in " + Quoted(item) + " must be a positive number");
    }
    // "a/n" runs from a to the field's maximum.
    if (range.find('-') == std::string_view::npos) last = field.max;
    if (step > 1) star = false;
  }
  for (unsigned v = first; v <= last; v += step) {
    bits |= uint64_t{1} << v;
    if (step > field.max) break;  // avoids unsigned wrap-around for huge steps
  }
  return star;
}

uint64_t ParseField(const FieldSpec& field, std::string_view text, bool& star) {
  uint64_t bits = 0;
  star = false;
  for (std::string_view item : Split(text, ',')) {
    if (item.empty()) Fail(field, "list " + Quoted(text) + " has an empty item");
    star = AddItem(field, item, bits) || star;
  }
  return bits;
}

bool IsSpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

bool Has(uint64_t bits, unsigned value) {
  return value < 64 && ((bits >> value) & 1) != 0;
}

// The smallest set bit >= `from`, or -1.
int NextSetBit(uint64_t bits, unsigned from) {
  if (from >= 64) return -1;
  const uint64_t rest = bits >> from << from;
  return rest == 0 ? -1 : std::countr_zero(rest);
}

}  // namespace

bool CronFields::MatchesDay(std::chrono::year_month_day date) const {
  const bool dom = Has(days_of_month, static_cast<unsigned>(date.day()));
  const bool dow =
      Has(days_of_week, std::chrono::weekday(std::chrono::local_days(date)).c_encoding());
  if (day_of_month_star || day_of_week_star) return dom && dow;
  return dom || dow;
}

CronFields ParseCronFields(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  if (words.size() != 5) {
    throw Error::InvalidInput(
        "expected 5 fields (minute hour day-of-month month day-of-week), found " +
        std::to_string(words.size()));
  }
  const auto& specs = FieldSpecs();
  CronFields fields;
  bool unused_star = false;
  fields.minutes = ParseField(specs[0], words[0], unused_star);
  fields.hours = static_cast<uint32_t>(ParseField(specs[1], words[1], unused_star));
  fields.days_of_month =
      static_cast<uint32_t>(ParseField(specs[2], words[2], fields.day_of_month_star));
  fields.months = static_cast<uint32_t>(ParseField(specs[3], words[3], unused_star));
  fields.days_of_week =
      static_cast<uint32_t>(ParseField(specs[4], words[4], fields.day_of_week_star));
  return fields;
}

std::optional<CivilMinute> FirstMatchingMinute(const CronFields& fields, CivilMinute from,
                                               CivilMinute limit) {
  using namespace std::chrono;
  CivilMinute t = from;
  while (t < limit) {
    const local_days day = floor<days>(t);
    const year_month_day date(day);
    if (!Has(fields.months, static_cast<unsigned>(date.month()))) {
      t = local_days(year_month_day(date.year() / date.month() / 1) + months(1));
      continue;
    }
    if (!fields.MatchesDay(date)) {
      t = day + days(1);
      continue;
    }
    const minutes time_of_day = t - day;
    const auto hour = static_cast<unsigned>(time_of_day / hours(1));
    const auto minute = static_cast<unsigned>((time_of_day % hours(1)).count());
    const int next_hour = NextSetBit(fields.hours, hour);
    if (next_hour < 0) {
      t = day + days(1);
      continue;
    }
    if (static_cast<unsigned>(next_hour) != hour) {
      t = day + hours(next_hour);
      continue;
    }
    const int next_minute = NextSetBit(fields.minutes, minute);
    if (next_minute < 0) {
      t = day + hours(hour + 1);
      continue;
    }
    if (static_cast<unsigned>(next_minute) == minute) return t;
    t = day + hours(hour) + minutes(next_minute);
  }
  return std::nullopt;
}

}  // namespace snapd
