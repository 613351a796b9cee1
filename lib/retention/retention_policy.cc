// Count and calendar retention with restic's `forget` rules, with reasons.
#include "retention/retention_policy.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <optional>

#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

enum class Period { kHour, kDay, kWeek, kMonth };

// The calendar period a snapshot falls in: a key to compare and a label for reasons.
struct Bucket {
  int64_t key = 0;
  std::string label;
};

[[gnu::format(printf, 1, 2)]] std::string Format(const char* format, ...) {
  char buffer[48];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

// ISO 8601: weeks run Monday to Sunday and belong to the year of their Thursday.
Bucket IsoWeekOf(const CivilTime& t) {
  using namespace std::chrono;
  const sys_days date{year{t.year} / month{t.month} / day{t.day}};
  const sys_days thursday = date + days{4} - days{weekday{date}.iso_encoding()};
  const int week_year = static_cast<int>(year_month_day{thursday}.year());
  const auto week = (thursday - sys_days{year{week_year} / January / 1}).count() / 7 + 1;
  return {int64_t{week_year} * 100 + week, Format("%04d-W%02d", week_year, static_cast<int>(week))};
}

Bucket BucketOf(Period period, const CivilTime& t) {
  const int64_t month = int64_t{t.year} * 100 + t.month;
  switch (period) {
    case Period::kHour:
      return {(month * 100 + t.day) * 100 + t.hour,
              Format("%04d-%02u-%02u %02u:00", t.year, t.month, t.day, t.hour)};
    case Period::kDay:
      return {month * 100 + t.day, Format("%04d-%02u-%02u", t.year, t.month, t.day)};
    case Period::kWeek:
      return IsoWeekOf(t);
    case Period::kMonth:
      return {month, Format("%04d-%02u", t.year, t.month)};
  }
  return {};
}

// One calendar rule as it walks the snapshots newest first.
struct CalendarRule {
  CalendarRule(Period period, const char* name, const char* unit, int count)
      : period(period), name(name), unit(unit), count(count) {}

  Period period;
  const char* name;  // as the config key ends: "keep-daily"
  const char* unit;  // "day"
  int count;
  int kept = 0;
  std::optional<int64_t> last_kept;  // the bucket of the last snapshot this rule kept

  std::string Title() const { return std::string(name) + " " + std::to_string(count); }
  std::string Units(int n) const { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); }
};

}  // namespace

bool RetentionPolicy::Disabled() const {
  return last < 1 && hourly < 1 && daily < 1 && weekly < 1 && monthly < 1;
}

std::string DescribeRetention(const RetentionPolicy& policy) {
  if (policy.Disabled()) return "everything (retention disabled)";
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (policy.last > 0) add("the newest " + std::to_string(policy.last));
  if (policy.hourly > 0) add("keep-hourly " + std::to_string(policy.hourly));
  if (policy.daily > 0) add("keep-daily " + std::to_string(policy.daily));
  if (policy.weekly > 0) add("keep-weekly " + std::to_string(policy.weekly));
  if (policy.monthly > 0) add("keep-monthly " + std::to_string(policy.monthly));
  return out;
}

std::vector<RetentionDecision> ApplyRetention(const std::vector<RetentionCandidate>& snapshots,
                                              const std::string& prefix,
                                              const RetentionPolicy& policy,
                                              const CivilTimeOf& civil_time) {
  struct Entry {
    const RetentionCandidate* candidate;
    int64_t time;
  };
  std::vector<Entry> entries;
  entries.reserve(snapshots.size());
  for (const auto& s : snapshots) {
    entries.push_back({&s, ParseSnapshotTime(s.name).value_or(s.created_at)});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.time != b.time) return a.time > b.time;
    return a.candidate->name > b.candidate->name;
  });

  std::vector<CalendarRule> rules;
  for (CalendarRule rule : std::array<CalendarRule, 4>{{
           {Period::kHour, "keep-hourly", "hour", policy.hourly},
           {Period::kDay, "keep-daily", "day", policy.daily},
           {Period::kWeek, "keep-weekly", "week", policy.weekly},
           {Period::kMonth, "keep-monthly", "month", policy.monthly},
       }}) {
    if (rule.count > 0) rules.push_back(rule);
  }
  int last_kept = 0;  // by the count rule

  std::vector<RetentionDecision> decisions;
  decisions.reserve(entries.size());
  for (const Entry& e : entries) {
    const RetentionCandidate& s = *e.candidate;
    RetentionDecision d{s.name, true, ""};
    if (!HasNamePrefix(s.name, prefix)) {
      d.reason = "name does not start with \"" + prefix + "-\"";
    } else if (!s.ready) {
      d.reason = "not ready: failed or partial snapshots are never counted or pruned";
    } else if (policy.Disabled()) {
      d.reason = "retention disabled (" + std::to_string(policy.last) + ")";
    } else {
      std::string kept_by;
      std::string passed_over;
      auto note = [](std::string& list, const std::string& text, const char* separator) {
        list += (list.empty() ? "" : separator) + text;
      };
      if (policy.last > 0) {
        const std::string newest =
            "the newest " + std::to_string(policy.last) + " of \"" + prefix + "\"";
        if (last_kept < policy.last) {
          ++last_kept;
          note(kept_by, "among " + newest + " (#" + std::to_string(last_kept) + ")", ", ");
        } else {
          note(passed_over, "older than " + newest, "; ");
        }
      }
      const CivilTime wall =
          rules.empty() ? CivilTime{} : (civil_time ? civil_time(e.time) : UtcCivilTime(e.time));
      for (CalendarRule& rule : rules) {
        const Bucket bucket = BucketOf(rule.period, wall);
        if (rule.kept >= rule.count) {
          note(passed_over, rule.Title() + ": " + rule.Units(rule.count) + " kept already", "; ");
        } else if (rule.last_kept == bucket.key) {
          note(passed_over, rule.Title() + ": a newer one of " + bucket.label + " is kept", "; ");
        } else {
          ++rule.kept;
          rule.last_kept = bucket.key;
          note(kept_by, rule.Title() + " (" + bucket.label + ")", ", ");
        }
      }
      d.keep = !kept_by.empty();
      d.reason = d.keep ? kept_by : passed_over;
    }
    decisions.push_back(std::move(d));
  }
  return decisions;
}

std::vector<RetentionDecision> ApplyRetention(const std::vector<RetentionCandidate>& snapshots,
                                              const std::string& prefix, int keep_count) {
  return ApplyRetention(snapshots, prefix, RetentionPolicy{.last = keep_count});
}

}  // namespace snapd
