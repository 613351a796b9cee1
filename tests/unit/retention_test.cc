// Tests of lib/retention: which snapshots count-based retention keeps, and why.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "retention/retention_policy.h"
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
