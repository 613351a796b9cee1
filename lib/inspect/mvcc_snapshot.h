// etcd's MVCC store as a bbolt snapshot holds it: bucket "key" maps revisions to mvccpb.KeyValue
// rows, bucket "meta" holds the compaction marks. Live keys and HashKV, read without etcd.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "inspect/bbolt_file.h"
#include "inspect/mapped_file.h"
#include "inspect/snapshot_contents.h"

namespace snapd {

class MvccSnapshot final : public SnapshotContents {
 public:
  // Reads `data` (which `file`, when given, owns) and indexes the newest row of every key: one
  // pass over bucket "key". Throws Error::Corrupt for a file that is not an etcd snapshot or is
  // damaged.
  explicit MvccSnapshot(std::span<const uint8_t> data, std::unique_ptr<MappedFile> file = nullptr);

  // As etcd computes its current revision on start: the newest row's, or the compact revision
  // when that is newer (everything up to it compacted away), at least 1.
  int64_t revision() const override { return revision_; }
  int64_t compact_revision() const override { return compact_ < 0 ? 0 : compact_; }
  uint64_t stored_revisions() const override { return rows_; }
  void ForEachLive(std::string_view prefix, bool exact,
                   const std::function<void(const LiveKey&)>& visit) const override;
  std::optional<KvHash> HashKV(int64_t revision = 0) const override;

  const BboltFile& db() const { return db_; }
  // The raft index the snapshot's state is at (meta "consistent_index"; 0 when absent).
  uint64_t consistent_index() const { return consistent_index_; }
  // A compaction that was asked for but had not finished (meta "scheduledCompactRev" when newer
  // than the finished one); 0 when none. etcd resumes it when it restores this snapshot.
  int64_t scheduled_compact_revision() const { return scheduled_compact_; }

 private:
  // One row of bucket "key": its revision and the mvccpb.KeyValue it holds.
  struct Row {
    int64_t main = 0;
    int64_t sub = 0;
    bool tombstone = false;
    std::string_view kv;
  };
  // User key -> its newest row (up to some revision), tombstones included.
  using Index = std::unordered_map<std::string_view, Row>;
  Index IndexUpTo(int64_t revision, size_t& live) const;
  const std::vector<std::pair<std::string_view, const Row*>>& SortedLive() const;

  std::unique_ptr<MappedFile> file_;  // before db_: the bytes it reads
  BboltFile db_;
  int64_t compact_ = -1;  // etcd's compactMainRev: -1 when never compacted
  int64_t scheduled_compact_ = 0;
  uint64_t consistent_index_ = 0;
  int64_t newest_row_ = 0;  // main revision of the last row
  int64_t revision_ = 1;
  uint64_t rows_ = 0;
  Index latest_;
  size_t live_count_ = 0;  // entries of latest_ that are not tombstones
  mutable std::once_flag sorted_once_;
  mutable std::vector<std::pair<std::string_view, const Row*>> sorted_live_;
};

}  // namespace snapd
