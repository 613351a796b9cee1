// Tests of lib/retention: which snapshots count and calendar retention keep, and why.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "retention/retention_policy.h"
#include "schedule/time_zone.h"
#include "snapshot/snapshot_name.h"

using namespace snapd;

namespace {

RetentionCandidate Snap(const std::string& prefix, const std::string& node, int64_t t,
                        bool ready = true) {
  return RetentionCandidate{FormatSnapshotName(prefix, node, t), 0, ready};
}

std::vector<std::string> Pruned(const std::vector<RetentionDecision>& decisions) {
  std::vector<std::string> out;
  for (const auto& d : decisions) {
    if (!d.keep) out.push_back(d.name);
  }
  return out;
}

std::map<std::string, RetentionDecision> ByName(const std::vector<RetentionDecision>& ds) {
  std::map<std::string, RetentionDecision> out;
  for (const auto& d : ds) out[d.name] = d;
  return out;
}

}  // namespace

TEST_CASE("keeps the newest N of the prefix and says why", "[retention]") {
  std::vector<RetentionCandidate> snaps;
  // Listed in no particular order.
  for (int64_t t : {1700000300, 1700000100, 1700000500, 1700000200, 1700000400, 1700000000}) {
    snaps.push_back(Snap("etcd-snapshot", "n1", t));
  }
  auto decisions = ApplyRetention(snaps, "etcd-snapshot", 3);
  REQUIRE(decisions.size() == snaps.size());
  // Newest first.
  std::vector<std::string> order;
  for (const auto& d : decisions) order.push_back(d.name);
  CHECK(order ==
        std::vector<std::string>{"etcd-snapshot-n1-1700000500", "etcd-snapshot-n1-1700000400",
                                 "etcd-snapshot-n1-1700000300", "etcd-snapshot-n1-1700000200",
                                 "etcd-snapshot-n1-1700000100", "etcd-snapshot-n1-1700000000"});
  for (int i = 0; i < 6; ++i) {
    INFO(decisions[i].name << ": " << decisions[i].reason);
    CHECK(decisions[i].keep == (i < 3));
    CHECK_FALSE(decisions[i].reason.empty());
  }
  CHECK_THAT(decisions[0].reason, Catch::Contains("newest 3") && Catch::Contains("#1"));
  CHECK_THAT(decisions[2].reason, Catch::Contains("#3"));
  CHECK_THAT(decisions[3].reason, Catch::Contains("older than the newest 3"));
}

TEST_CASE("nothing pruned when there are at most N", "[retention]") {
  std::vector<RetentionCandidate> snaps = {Snap("etcd-snapshot", "n1", 1),
                                           Snap("etcd-snapshot", "n1", 2)};
  CHECK(Pruned(ApplyRetention(snaps, "etcd-snapshot", 2)).empty());
  CHECK(Pruned(ApplyRetention(snaps, "etcd-snapshot", 5)).empty());
  CHECK(Pruned(ApplyRetention(snaps, "etcd-snapshot", 1)) ==
        std::vector<std::string>{"etcd-snapshot-n1-1"});
  CHECK(ApplyRetention({}, "etcd-snapshot", 1).empty());
}

TEST_CASE("only names with \"<prefix>-\" are counted or pruned", "[retention]") {
  std::vector<RetentionCandidate> snaps = {
      Snap("etcd-snapshot", "n1", 100),
      Snap("etcd-snapshot", "n1", 200),
      Snap("etcd-snapshotx", "n1", 300),  // shares the bare prefix: k3s would count it
      Snap("etcd-snapshotx", "n1", 50),
      Snap("on-demand", "n1", 10),
      {"my_backup", 5, true},
      {"etcd-snapshot", 1, true},
  };
  auto decisions = ApplyRetention(snaps, "etcd-snapshot", 1);
  CHECK(Pruned(decisions) == std::vector<std::string>{"etcd-snapshot-n1-100"});
  auto by_name = ByName(decisions);
  CHECK(by_name["etcd-snapshot-n1-200"].keep);
  for (std::string other : {"etcd-snapshotx-n1-300", "etcd-snapshotx-n1-50", "on-demand-n1-10",
                            "my_backup", "etcd-snapshot"}) {
    INFO(other);
    CHECK(by_name[other].keep);
    CHECK_THAT(by_name[other].reason, Catch::Contains("does not start with \"etcd-snapshot-\""));
  }
  // The other prefix has its own count.
  CHECK(Pruned(ApplyRetention(snaps, "etcd-snapshotx", 1)) ==
        std::vector<std::string>{"etcd-snapshotx-n1-50"});
  CHECK(Pruned(ApplyRetention(snaps, "on-demand", 1)).empty());
}

TEST_CASE("not-ready snapshots are never counted and never pruned", "[retention]") {
  std::vector<RetentionCandidate> snaps = {
      Snap("etcd-snapshot", "n1", 500, false), Snap("etcd-snapshot", "n1", 400, false),
      Snap("etcd-snapshot", "n1", 300),        Snap("etcd-snapshot", "n1", 200),
      Snap("etcd-snapshot", "n1", 100),        Snap("etcd-snapshot", "n1", 50, false),
  };
  auto decisions = ApplyRetention(snaps, "etcd-snapshot", 2);
  CHECK(Pruned(decisions) == std::vector<std::string>{"etcd-snapshot-n1-100"});
  auto by_name = ByName(decisions);
  for (std::string failed :
       {"etcd-snapshot-n1-500", "etcd-snapshot-n1-400", "etcd-snapshot-n1-50"}) {
    INFO(failed);
    CHECK(by_name[failed].keep);
    CHECK_THAT(by_name[failed].reason, Catch::Contains("not ready"));
  }
  CHECK_THAT(by_name["etcd-snapshot-n1-300"].reason, Catch::Contains("#1"));
  CHECK_THAT(by_name["etcd-snapshot-n1-200"].reason, Catch::Contains("#2"));
}

TEST_CASE("a failed snapshot never costs a ready one", "[retention]") {
  // Property over random histories: adding any number of failed snapshots, at any times, never
  // changes which ready snapshots are pruned (k3s prunes after a failed upload; we must not).
  std::mt19937 rng(2024);
  for (int round = 0; round < 300; ++round) {
    std::vector<RetentionCandidate> ready;
    int n_ready = static_cast<int>(rng() % 8);
    std::set<int64_t> used;
    for (int i = 0; i < n_ready; ++i) {
      int64_t t = 1700000000 + static_cast<int64_t>(rng() % 1000);
      if (!used.insert(t).second) continue;
      ready.push_back(Snap("etcd-snapshot", rng() % 2 ? "n1" : "n-2", t));
    }
    int keep = static_cast<int>(rng() % 6) - 1;  // -1 .. 4
    auto baseline = Pruned(ApplyRetention(ready, "etcd-snapshot", keep));

    std::vector<RetentionCandidate> with_failed = ready;
    int n_failed = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n_failed; ++i) {
      int64_t t = 1700000000 + static_cast<int64_t>(rng() % 1200);
      with_failed.push_back(Snap("etcd-snapshot", "n3", t, false));
    }
    std::shuffle(with_failed.begin(), with_failed.end(), rng);
    auto decisions = ApplyRetention(with_failed, "etcd-snapshot", keep);
    INFO("round " << round << " keep " << keep);
    CHECK(Pruned(decisions) == baseline);
    for (const auto& d : decisions) {
      bool is_failed = std::none_of(ready.begin(), ready.end(),
                                    [&](const RetentionCandidate& c) { return c.name == d.name; });
      if (is_failed) CHECK(d.keep);
    }
  }
}

TEST_CASE("keep_count below 1 disables pruning", "[retention]") {
  std::vector<RetentionCandidate> snaps;
  for (int64_t t = 1; t <= 10; ++t) snaps.push_back(Snap("etcd-snapshot", "n1", t));
  for (int keep : {0, -1, -100}) {
    INFO(keep);
    auto decisions = ApplyRetention(snaps, "etcd-snapshot", keep);
    REQUIRE(decisions.size() == 10);
    CHECK(Pruned(decisions).empty());
    CHECK_THAT(decisions[0].reason, Catch::Contains("disabled"));
  }
}

TEST_CASE("ties in time are broken by name, stably", "[retention]") {
  std::vector<RetentionCandidate> snaps = {Snap("etcd-snapshot", "a", 100),
                                           Snap("etcd-snapshot", "c", 100),
                                           Snap("etcd-snapshot", "b", 100)};
  auto first = ApplyRetention(snaps, "etcd-snapshot", 2);
  std::reverse(snaps.begin(), snaps.end());
  auto second = ApplyRetention(snaps, "etcd-snapshot", 2);
  CHECK(Pruned(first).size() == 1);
  CHECK(Pruned(first) == Pruned(second));
  // Name descending: a is the one that goes.
  CHECK(Pruned(first) == std::vector<std::string>{"etcd-snapshot-a-100"});
  for (size_t i = 0; i < first.size(); ++i) CHECK(first[i].name == second[i].name);
}

TEST_CASE("names without a time fall back to created_at", "[retention]") {
  std::vector<RetentionCandidate> snaps = {
      {"etcd-snapshot-manual", 1700000250, true},  // no digits after the last dash
      Snap("etcd-snapshot", "n1", 1700000300),
      Snap("etcd-snapshot", "n1", 1700000200),
      {"etcd-snapshot-old-copy", 1600000000, true},
  };
  auto decisions = ApplyRetention(snaps, "etcd-snapshot", 2);
  std::vector<std::string> order;
  for (const auto& d : decisions) order.push_back(d.name);
  CHECK(order == std::vector<std::string>{"etcd-snapshot-n1-1700000300", "etcd-snapshot-manual",
                                          "etcd-snapshot-n1-1700000200", "etcd-snapshot-old-copy"});
  CHECK(Pruned(decisions) ==
        std::vector<std::string>{"etcd-snapshot-n1-1700000200", "etcd-snapshot-old-copy"});
  // The time in the name wins over created_at, as k3s sorts by name time.
  std::vector<RetentionCandidate> misleading = {
      {FormatSnapshotName("etcd-snapshot", "n1", 100), 999999, true},
      {FormatSnapshotName("etcd-snapshot", "n1", 200), 1, true},
  };
  CHECK(Pruned(ApplyRetention(misleading, "etcd-snapshot", 1)) ==
        std::vector<std::string>{"etcd-snapshot-n1-100"});
}

TEST_CASE("retention counts across nodes and compressed names", "[retention]") {
  std::vector<RetentionCandidate> snaps = {
      Snap("etcd-snapshot", "server-1", 1000),
      Snap("etcd-snapshot", "server-2", 1001),
      Snap("etcd-snapshot", "server-3", 1002),
      Snap("etcd-snapshot", "server-1", 2000),
      {FormatSnapshotName("etcd-snapshot", "server-2", 2001) + ".zip", 0, true},
  };
  auto decisions = ApplyRetention(snaps, "etcd-snapshot", 3);
  CHECK(decisions[0].name == "etcd-snapshot-server-2-2001.zip");
  CHECK(Pruned(decisions) ==
        std::vector<std::string>{"etcd-snapshot-server-2-1001", "etcd-snapshot-server-1-1000"});
}

TEST_CASE("decisions are newest first and cover every input once", "[retention]") {
  std::mt19937 rng(99);
  std::vector<RetentionCandidate> snaps;
  for (int i = 0; i < 50; ++i) {
    std::string prefix = i % 3 == 0 ? "on-demand" : "etcd-snapshot";
    snaps.push_back(Snap(prefix, "node-" + std::to_string(i % 4), 1000 + (rng() % 5000), i % 7));
  }
  auto decisions = ApplyRetention(snaps, "etcd-snapshot", 5);
  REQUIRE(decisions.size() == snaps.size());
  std::multiset<std::string> in, out;
  for (const auto& s : snaps) in.insert(s.name);
  for (const auto& d : decisions) out.insert(d.name);
  CHECK(in == out);
  for (size_t i = 1; i < decisions.size(); ++i) {
    CHECK(*ParseSnapshotTime(decisions[i - 1].name) >= *ParseSnapshotTime(decisions[i].name));
  }
  int kept_counted = 0;
  for (const auto& d : decisions) {
    if (d.reason.find("among the newest") != std::string::npos) ++kept_counted;
  }
  CHECK(kept_counted == 5);
}

// --- Calendar retention (restic's keep-hourly, -daily, -weekly, -monthly).

namespace {

int64_t Utc(int year, int month, int day, int hour, int minute = 0) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return static_cast<int64_t>(::timegm(&tm));
}

std::vector<std::string> Kept(const std::vector<RetentionDecision>& decisions) {
  std::vector<std::string> out;
  for (const auto& d : decisions) {
    if (d.keep) out.push_back(d.name);
  }
  return out;
}

std::string Name(int64_t t) {
  return FormatSnapshotName("etcd-snapshot", "n1", t);
}

CivilTimeOf NewYork() {
  const date::time_zone* zone = &LocateTimeZone("America/New_York");
  return [zone](int64_t t) { return CivilTimeIn(*zone, t); };
}

// Sets $TZ for glibc's localtime_r, and puts the old value back.
class ScopedTz {
 public:
  explicit ScopedTz(const char* value) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", value, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

// The rules as restic's documentation states them, computed another way than the code under
// test: with glibc's calendar (strftime's %G-W%V for ISO weeks), grouping every ready snapshot
// of the prefix by period, then taking the newest snapshot of the N newest periods, per rule.
std::set<std::string> Expected(const std::vector<RetentionCandidate>& snaps,
                               const RetentionPolicy& policy, bool local_time) {
  std::vector<std::pair<int64_t, std::string>> ready;  // newest first
  for (const auto& s : snaps) {
    if (s.ready && HasNamePrefix(s.name, "etcd-snapshot")) {
      ready.push_back({*ParseSnapshotTime(s.name), s.name});
    }
  }
  std::sort(ready.rbegin(), ready.rend());
  std::set<std::string> kept;
  for (int i = 0; i < policy.last && i < static_cast<int>(ready.size()); ++i) {
    kept.insert(ready[i].second);
  }
  const std::pair<const char*, int> rules[] = {{"%Y-%m-%d %H", policy.hourly},
                                               {"%Y-%m-%d", policy.daily},
                                               {"%G-W%V", policy.weekly},
                                               {"%Y-%m", policy.monthly}};
  for (const auto& [format, count] : rules) {
    std::map<std::string, std::pair<int64_t, std::string>> newest_of;  // period -> newest
    for (const auto& [t, name] : ready) {
      std::time_t tt = t;
      std::tm tm{};
      local_time ? ::localtime_r(&tt, &tm) : ::gmtime_r(&tt, &tm);
      char period[32];
      std::strftime(period, sizeof period, format, &tm);
      auto& newest = newest_of[period];
      if (newest.second.empty() || t > newest.first) newest = {t, name};
    }
    std::vector<std::pair<int64_t, std::string>> periods;
    for (const auto& [period, newest] : newest_of) periods.push_back(newest);
    std::sort(periods.rbegin(), periods.rend());
    for (int i = 0; i < count && i < static_cast<int>(periods.size()); ++i) {
      kept.insert(periods[i].second);
    }
  }
  return kept;
}

// Hourly snapshots (at a random minute) from 2026-10-20 to 2027-03-20: across both of New York's
// DST changes, month ends, and the ISO year 2026's week 53 (2026-12-28 to 2027-01-03). Gaps: a
// fifth of the hours, and whole days, have none; some failed, some of another prefix.
std::vector<RetentionCandidate> GeneratedHistory(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<RetentionCandidate> snaps;
  const int64_t start = Utc(2026, 10, 20, 0);
  const int64_t end = Utc(2027, 3, 20, 0);
  std::set<int64_t> empty_days;
  for (int i = 0; i < 25; ++i) empty_days.insert((start + (rng() % (end - start))) / 86400);
  for (int64_t hour = start; hour < end; hour += 3600) {
    if (empty_days.contains(hour / 86400) || rng() % 5 == 0) continue;
    const int64_t t = hour + rng() % 3600;
    snaps.push_back({Name(t), 0, rng() % 40 != 0});
    if (rng() % 10 == 0) snaps.push_back({FormatSnapshotName("on-demand", "n1", t + 1), 0, true});
  }
  std::shuffle(snaps.begin(), snaps.end(), rng);
  return snaps;
}

}  // namespace

TEST_CASE("UTC and zone wall clocks agree with glibc's", "[retention]") {
  std::mt19937 rng(7);
  const CivilTimeOf new_york = NewYork();
  ScopedTz tz("America/New_York");
  for (int i = 0; i < 2000; ++i) {
    // Up to 2037: date reads no rules past a zone file's last transition, where glibc does.
    const int64_t t = Utc(1990, 1, 1, 0) + static_cast<int64_t>(rng() % (47u * 365 * 86400));
    std::time_t tt = t;
    std::tm utc{}, local{};
    ::gmtime_r(&tt, &utc);
    ::localtime_r(&tt, &local);
    INFO(t);
    const CivilTime a = UtcCivilTime(t);
    CHECK((a.year == utc.tm_year + 1900 && a.month == unsigned(utc.tm_mon + 1) &&
           a.day == unsigned(utc.tm_mday) && a.hour == unsigned(utc.tm_hour)));
    const CivilTime b = new_york(t);
    CHECK((b.year == local.tm_year + 1900 && b.month == unsigned(local.tm_mon + 1) &&
           b.day == unsigned(local.tm_mday) && b.hour == unsigned(local.tm_hour)));
  }
}

TEST_CASE("generated histories keep exactly what the rules say, in UTC and New York",
          "[retention]") {
  const std::vector<RetentionPolicy> policies = {
      {.hourly = 24},
      {.daily = 7},
      {.weekly = 4},
      {.monthly = 12},
      {.last = 3, .hourly = 24, .daily = 7, .weekly = 4, .monthly = 12},
      // Counts past the whole history: every period boundary is walked.
      {.hourly = 5000, .daily = 200, .weekly = 30, .monthly = 8},
      {.last = 2, .daily = 100},
      {.weekly = 25},  // reaches back over week 53
  };
  for (bool in_new_york : {false, true}) {
    std::optional<ScopedTz> tz;
    if (in_new_york) tz.emplace("America/New_York");
    const CivilTimeOf clock = in_new_york ? NewYork() : nullptr;
    for (uint32_t seed : {1u, 2u, 3u}) {
      const std::vector<RetentionCandidate> snaps = GeneratedHistory(seed);
      std::vector<RetentionPolicy> all = policies;
      std::mt19937 rng(seed);
      for (int i = 0; i < 6; ++i) {
        all.push_back({.last = int(rng() % 4),
                       .hourly = int(rng() % 60),
                       .daily = int(rng() % 40),
                       .weekly = int(rng() % 12),
                       .monthly = int(rng() % 5)});
      }
      for (const RetentionPolicy& policy : all) {
        INFO((in_new_york ? "New York" : "UTC")
             << " seed " << seed << ": " << DescribeRetention(policy));
        const auto decisions = ApplyRetention(snaps, "etcd-snapshot", policy, clock);
        REQUIRE(decisions.size() == snaps.size());
        std::set<std::string> kept_ready;
        for (const auto& d : decisions) {
          const bool counted = HasNamePrefix(d.name, "etcd-snapshot") &&
                               d.reason.find("not ready") == std::string::npos;
          if (!counted) CHECK(d.keep);
          if (counted && d.keep) kept_ready.insert(d.name);
          CHECK_FALSE(d.reason.empty());
        }
        CHECK(kept_ready == Expected(snaps, policy, in_new_york));
      }
    }
  }
}

TEST_CASE("calendar rules name the period that kept each snapshot", "[retention]") {
  const std::vector<RetentionCandidate> snaps = {
      {Name(Utc(2026, 12, 5, 23, 10)), 0, true}, {Name(Utc(2026, 12, 5, 9, 0)), 0, true},
      {Name(Utc(2026, 12, 5, 8, 0)), 0, true},   {Name(Utc(2026, 12, 4, 12, 0)), 0, true},
      {Name(Utc(2026, 12, 1, 12, 0)), 0, true},  {Name(Utc(2026, 11, 30, 12, 0)), 0, true},
  };
  auto by_name = ByName(
      ApplyRetention(snaps, "etcd-snapshot", {.last = 1, .daily = 3, .monthly = 2}, nullptr));
  CHECK(by_name[Name(Utc(2026, 12, 5, 23, 10))].reason ==
        "among the newest 1 of \"etcd-snapshot\" (#1), keep-daily 3 (2026-12-05), "
        "keep-monthly 2 (2026-12)");
  CHECK_FALSE(by_name[Name(Utc(2026, 12, 5, 9, 0))].keep);
  CHECK(by_name[Name(Utc(2026, 12, 5, 9, 0))].reason ==
        "older than the newest 1 of \"etcd-snapshot\"; keep-daily 3: a newer one of 2026-12-05 "
        "is kept; keep-monthly 2: a newer one of 2026-12 is kept");
  CHECK(by_name[Name(Utc(2026, 12, 4, 12, 0))].reason == "keep-daily 3 (2026-12-04)");
  // Days without a snapshot cost nothing: the third day kept is the 1st, not the 3rd.
  CHECK(by_name[Name(Utc(2026, 12, 1, 12, 0))].reason == "keep-daily 3 (2026-12-01)");
  // keep-daily is used up; keep-monthly reaches the month before.
  CHECK(by_name[Name(Utc(2026, 11, 30, 12, 0))].reason == "keep-monthly 2 (2026-11)");
  CHECK(by_name[Name(Utc(2026, 12, 5, 8, 0))].reason ==
        "older than the newest 1 of \"etcd-snapshot\"; keep-daily 3: a newer one of 2026-12-05 "
        "is kept; keep-monthly 2: a newer one of 2026-12 is kept");

  const std::vector<RetentionCandidate> more = {
      {Name(Utc(2026, 12, 5, 10, 0)), 0, true},
      {Name(Utc(2026, 12, 4, 10, 0)), 0, true},
      {Name(Utc(2026, 12, 3, 10, 0)), 0, true},
  };
  const auto decisions = ApplyRetention(more, "etcd-snapshot", {.daily = 2});
  CHECK(decisions[2].reason == "keep-daily 2: 2 days kept already");
  CHECK(ApplyRetention(more, "etcd-snapshot", {.hourly = 1})[1].reason ==
        "keep-hourly 1: 1 hour kept already");
  CHECK(ApplyRetention(more, "etcd-snapshot", {.hourly = 1})[0].reason ==
        "keep-hourly 1 (2026-12-05 10:00)");
}

TEST_CASE("weeks are ISO 8601 weeks: Monday to Sunday, of the year of their Thursday",
          "[retention]") {
  // 2026 has 53 ISO weeks: Thursday 2026-12-31 puts 2026-12-28 .. 2027-01-03 in 2026-W53.
  const std::vector<RetentionCandidate> snaps = {
      {Name(Utc(2027, 1, 4, 1)), 0, true},     // Monday: 2027-W01
      {Name(Utc(2027, 1, 3, 23)), 0, true},    // Sunday: 2026-W53
      {Name(Utc(2027, 1, 1, 12)), 0, true},    // 2026-W53
      {Name(Utc(2026, 12, 28, 0)), 0, true},   // Monday: 2026-W53
      {Name(Utc(2026, 12, 27, 23)), 0, true},  // Sunday: 2026-W52
      {Name(Utc(2026, 12, 21, 0)), 0, true},   // 2026-W52
      {Name(Utc(2026, 1, 1, 0)), 0, true},     // Thursday: 2026-W01
      {Name(Utc(2025, 12, 29, 0)), 0, true},   // Monday: 2026-W01 too
  };
  const auto decisions = ApplyRetention(snaps, "etcd-snapshot", {.weekly = 10});
  CHECK(Kept(decisions) ==
        std::vector<std::string>{Name(Utc(2027, 1, 4, 1)), Name(Utc(2027, 1, 3, 23)),
                                 Name(Utc(2026, 12, 27, 23)), Name(Utc(2026, 1, 1, 0))});
  auto by_name = ByName(decisions);
  CHECK(by_name[Name(Utc(2027, 1, 4, 1))].reason == "keep-weekly 10 (2027-W01)");
  CHECK(by_name[Name(Utc(2027, 1, 3, 23))].reason == "keep-weekly 10 (2026-W53)");
  CHECK(by_name[Name(Utc(2026, 12, 28, 0))].reason ==
        "keep-weekly 10: a newer one of 2026-W53 is kept");
  CHECK(by_name[Name(Utc(2026, 12, 27, 23))].reason == "keep-weekly 10 (2026-W52)");
  CHECK(by_name[Name(Utc(2026, 1, 1, 0))].reason == "keep-weekly 10 (2026-W01)");
  CHECK_FALSE(by_name[Name(Utc(2025, 12, 29, 0))].keep);
}

TEST_CASE("a zone moves snapshots across days and merges the hour DST repeats", "[retention]") {
  // 03:00 UTC on the 5th is 22:00 on the 4th in New York (EST, UTC-5).
  const std::vector<RetentionCandidate> days = {
      {Name(Utc(2026, 12, 5, 6)), 0, true},
      {Name(Utc(2026, 12, 5, 3)), 0, true},
  };
  CHECK(Kept(ApplyRetention(days, "etcd-snapshot", {.daily = 2})).size() == 1);
  CHECK(Kept(ApplyRetention(days, "etcd-snapshot", {.daily = 2}, NewYork())).size() == 2);
  CHECK(ApplyRetention(days, "etcd-snapshot", {.daily = 2}, NewYork())[1].reason ==
        "keep-daily 2 (2026-12-04)");

  // 2026-11-01: New York's clocks go back from 02:00 EDT to 01:00 EST; 05:30 and 06:30 UTC are
  // both 01:30 there, one hour of the wall clock, as restic counts it.
  const std::vector<RetentionCandidate> fall_back = {
      {Name(Utc(2026, 11, 1, 7, 30)), 0, true},  // 02:30 EST
      {Name(Utc(2026, 11, 1, 6, 30)), 0, true},  // 01:30 EST
      {Name(Utc(2026, 11, 1, 5, 30)), 0, true},  // 01:30 EDT
  };
  const auto utc = ApplyRetention(fall_back, "etcd-snapshot", {.hourly = 2});
  CHECK(Kept(utc) == std::vector<std::string>{fall_back[0].name, fall_back[1].name});
  CHECK(utc[2].reason == "keep-hourly 2: 2 hours kept already");
  const auto local = ApplyRetention(fall_back, "etcd-snapshot", {.hourly = 3}, NewYork());
  CHECK(Kept(local) == std::vector<std::string>{fall_back[0].name, fall_back[1].name});
  CHECK(local[1].reason == "keep-hourly 3 (2026-11-01 01:00)");
  CHECK(local[2].reason == "keep-hourly 3: a newer one of 2026-11-01 01:00 is kept");

  // 2027-03-14: 02:00 EST jumps to 03:00 EDT; 06:59 and 07:00 UTC are 01:59 and 03:00.
  const std::vector<RetentionCandidate> spring = {
      {Name(Utc(2027, 3, 14, 7, 0)), 0, true},
      {Name(Utc(2027, 3, 14, 6, 59)), 0, true},
  };
  const auto forward = ApplyRetention(spring, "etcd-snapshot", {.hourly = 5}, NewYork());
  CHECK(forward[0].reason == "keep-hourly 5 (2027-03-14 03:00)");
  CHECK(forward[1].reason == "keep-hourly 5 (2027-03-14 01:00)");
}

TEST_CASE("calendar retention counts only ready snapshots of the prefix, by their name's time",
          "[retention]") {
  const std::vector<RetentionCandidate> snaps = {
      {Name(Utc(2026, 12, 5, 12)), 0, false},  // failed: never counted, never deleted
      {Name(Utc(2026, 12, 5, 10)), 0, true},
      {FormatSnapshotName("on-demand", "n1", Utc(2026, 12, 5, 11)), 0, true},
      // k3s-made (no record): its file time is misleading, the name's time counts.
      {Name(Utc(2026, 12, 4, 10)), Utc(2026, 12, 5, 23), true},
      {Name(Utc(2026, 12, 3, 10)), 0, true},
  };
  const auto decisions = ApplyRetention(snaps, "etcd-snapshot", {.daily = 2});
  auto by_name = ByName(decisions);
  CHECK(by_name[Name(Utc(2026, 12, 5, 12))].keep);
  CHECK_THAT(by_name[Name(Utc(2026, 12, 5, 12))].reason, Catch::Contains("not ready"));
  CHECK(by_name[Name(Utc(2026, 12, 5, 10))].reason == "keep-daily 2 (2026-12-05)");
  CHECK(by_name[Name(Utc(2026, 12, 4, 10))].reason == "keep-daily 2 (2026-12-04)");
  CHECK(Pruned(decisions) == std::vector<std::string>{Name(Utc(2026, 12, 3, 10))});
  CHECK(by_name[FormatSnapshotName("on-demand", "n1", Utc(2026, 12, 5, 11))].keep);
}

TEST_CASE("retention is off only when every rule is", "[retention]") {
  std::vector<RetentionCandidate> snaps;
  for (int day = 1; day <= 10; ++day) snaps.push_back({Name(Utc(2026, 12, day, 12)), 0, true});
  CHECK(RetentionPolicy{}.Disabled());
  CHECK(RetentionPolicy{.last = -1}.Disabled());
  CHECK_FALSE(RetentionPolicy{.monthly = 1}.Disabled());
  const auto off = ApplyRetention(snaps, "etcd-snapshot", RetentionPolicy{});
  CHECK(Pruned(off).empty());
  CHECK(off[0].reason == "retention disabled (0)");
  // A count of 0 with a calendar rule: the rule alone decides.
  const auto daily = ApplyRetention(snaps, "etcd-snapshot", {.last = 0, .daily = 3});
  CHECK(Kept(daily) == std::vector<std::string>{Name(Utc(2026, 12, 10, 12)),
                                                Name(Utc(2026, 12, 9, 12)),
                                                Name(Utc(2026, 12, 8, 12))});
  CHECK(daily[3].reason == "keep-daily 3: 3 days kept already");
  CHECK(DescribeRetention({}) == "everything (retention disabled)");
  CHECK(DescribeRetention({.last = 5, .hourly = 24, .daily = 7, .weekly = 4, .monthly = 12}) ==
        "the newest 5, keep-hourly 24, keep-daily 7, keep-weekly 4, keep-monthly 12");
  // The count alone reads as it always did.
  CHECK(ApplyRetention(snaps, "etcd-snapshot", {.last = 2})[2].reason ==
        "older than the newest 2 of \"etcd-snapshot\"");
}
