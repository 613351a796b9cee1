// kine's SQLite database (k3s's state.db, or a copy of it) read as snapshot contents: table kine,
// one row per revision. Opened immutable and read-only: it writes nothing, not even -wal/-shm.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "inspect/snapshot_contents.h"

struct sqlite3;

namespace snapd {

class KineSnapshot final : public SnapshotContents {
 public:
  // Opens `path` and reads its revisions. Throws Error: NotFound when there is no such file,
  // Corrupt when it is not a SQLite database or has no table kine.
  explicit KineSnapshot(const std::string& path);
  ~KineSnapshot() override;
  KineSnapshot(const KineSnapshot&) = delete;
  KineSnapshot& operator=(const KineSnapshot&) = delete;

  // kine's revision: its newest row id.
  int64_t revision() const override { return revision_; }
  // The prev_revision of kine's row `compact_rev_key` (0 when kine never compacted).
  int64_t compact_revision() const override { return compact_revision_; }
  uint64_t stored_revisions() const override { return rows_; }
  // For each name its newest row, unless that deletes it; kine's own rows (compact_rev_key and
  // gap-N fillers) are not keys. create_revision is the row's, or its id for the row that
  // created the key; mod_revision is the row id; version is 0, as kine itself answers (it
  // stores no version). Each distinct (prefix, exact) query is read once and kept: the views
  // stay valid while this object lives.
  void ForEachLive(std::string_view prefix, bool exact,
                   const std::function<void(const LiveKey&)>& visit) const override;
  // kine has no HashKV: nullopt.
  std::optional<KvHash> HashKV(int64_t revision = 0) const override;

 private:
  struct Row {
    std::string key, value;
    int64_t create_revision = 0, mod_revision = 0, lease = 0;
  };
  std::vector<Row> Query(std::string_view prefix, bool exact) const;

  std::string where_;
  sqlite3* db_ = nullptr;
  int64_t revision_ = 0;
  int64_t compact_revision_ = 0;
  uint64_t rows_ = 0;
  mutable std::mutex mutex_;  // the connection and the cache
  mutable std::map<std::pair<std::string, bool>, std::vector<Row>> cache_;
};

}  // namespace snapd
