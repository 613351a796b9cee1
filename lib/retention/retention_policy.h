// Which snapshots of one name prefix to keep and which to prune, with the reason for each: a
// count (k3s's etcd-snapshot-retention, restic's keep-last) and calendar rules (restic's
// keep-hourly, -daily, -weekly and -monthly). Pure: the caller lists the snapshots and says
// which wall clock the calendar is read on; nothing here reads a clock, a disk or a zone file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/civil_time.h"

namespace snapd {

struct RetentionCandidate {
  std::string name;
  int64_t created_at = 0;  // unix seconds, used when the name has no time in it
  bool ready = true;
};

struct RetentionDecision {
  std::string name;
  bool keep = true;
  std::string reason;
};

// What to keep, as restic's `forget` reads its --keep-* options: a snapshot is kept when any
// rule keeps it. Walking the snapshots newest first, a calendar rule keeps a snapshot when its
// hour (day, ISO 8601 week, month) differs from that of the last snapshot the rule kept and the
// rule has kept fewer than its count: so the newest snapshot of each of the N most recent hours
// (days, weeks, months) that have one. A rule < 1 is off.
struct RetentionPolicy {
  int last = 0;     // the newest N (etcd-snapshot-retention, etcd-s3-retention)
  int hourly = 0;   // etcd-snapshot-keep-hourly
  int daily = 0;    // etcd-snapshot-keep-daily
  int weekly = 0;   // etcd-snapshot-keep-weekly: weeks from Monday, of the week-numbering year
  int monthly = 0;  // etcd-snapshot-keep-monthly

  // Every rule off: nothing is pruned, as k3s does with a count < 1.
  bool Disabled() const;
};

// "the newest 5, keep-daily 7, keep-monthly 12", or "everything (retention disabled)".
std::string DescribeRetention(const RetentionPolicy& policy);

// Applies `policy` to the ready snapshots whose name starts with "<prefix>-", ordered newest
// first by the time in the name, as k3s sorts, else created_at (ties by name). Everything else
// is kept with its reason: another prefix, not ready (a failed snapshot is never counted and
// never deleted), or retention disabled. Calendar rules read each snapshot's time on
// `civil_time`'s wall clock (null: UTC). Decisions come newest first; a kept one names every rule
// that keeps it ("the newest 3 of ... (#1), keep-daily 7 (2026-12-05)"), a removed one why each
// rule passed it over.
std::vector<RetentionDecision> ApplyRetention(const std::vector<RetentionCandidate>& snapshots,
                                              const std::string& prefix,
                                              const RetentionPolicy& policy,
                                              const CivilTimeOf& civil_time = nullptr);

// The count alone: keeps the newest `keep_count`; < 1 keeps everything, as in k3s.
std::vector<RetentionDecision> ApplyRetention(const std::vector<RetentionCandidate>& snapshots,
                                              const std::string& prefix, int keep_count);

}  // namespace snapd
