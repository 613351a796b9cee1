// MvccSnapshot: etcd's revision keys, KeyValue rows and meta marks, and HashKV as etcd's
// store.HashByRev computes it (mvcc/kvstore.go in 3.4, mvcc/hash.go kvHasher in 3.5+).
#include "inspect/mvcc_snapshot.h"

#include <algorithm>
#include <limits>
#include <string>

#include "core/error.h"
#include "etcd/protobuf_wire.h"
#include "inspect/crc32c.h"

namespace snapd {
namespace {

constexpr std::string_view kKeyBucket = "key";
constexpr std::string_view kMetaBucket = "meta";

[[noreturn]] void Corrupt(const std::string& what) {
  throw Error::Corrupt("etcd snapshot: " + what);
}

uint64_t Be64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

int64_t Revision(uint64_t value, const char* what) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    Corrupt(std::string(what) + " revision out of range");
  }
  return static_cast<int64_t>(value);
}

std::string Describe(int64_t main, int64_t sub) {
  return "revision " + std::to_string(main) + "_" + std::to_string(sub);
}

// A key of bucket "key": 8 bytes main revision, '_', 8 bytes sub revision (big-endian), and a
// 't' after them for a tombstone (a deletion).
struct RowKey {
  int64_t main = 0;
  int64_t sub = 0;
  bool tombstone = false;
};
RowKey ParseRowKey(std::string_view key) {
  const bool plain = key.size() == 17;
  const bool marked = key.size() == 18 && key[17] == 't';
  if ((!plain && !marked) || key[8] != '_') {
    Corrupt("bucket key: a key of " + std::to_string(key.size()) + " bytes is not a revision");
  }
  return RowKey{Revision(Be64(key), "main"), Revision(Be64(key.substr(9)), "sub"), marked};
}

// The user key an mvccpb.KeyValue row is about (field 1).
std::string_view UserKey(std::string_view kv, const RowKey& row) {
  try {
    ProtobufReader reader(kv);
    ProtobufField field;
    while (reader.Next(field)) {
      if (field.number == 1 && field.wire_type == 2) return field.bytes_value;
    }
  } catch (const Error& e) {
    throw Error::Corrupt("etcd snapshot: " + Describe(row.main, row.sub) + ": " + e.what());
  }
  Corrupt(Describe(row.main, row.sub) + ": the row has no key");
}

// The revision stored as a meta value (a revision key: main revision first); nullopt if absent.
std::optional<int64_t> MetaRevision(const BboltFile& db, std::string_view name) {
  const std::optional<std::string_view> value = db.Get(kMetaBucket, name);
  if (!value) return std::nullopt;
  if (value->size() < 8) {
    Corrupt("meta " + std::string(name) + " holds " + std::to_string(value->size()) + " bytes");
  }
  return Revision(Be64(*value), "compact");
}

}  // namespace

MvccSnapshot::MvccSnapshot(std::span<const uint8_t> data, std::unique_ptr<MappedFile> file)
    : file_(std::move(file)), db_(data) {
  if (!db_.HasBucket(kKeyBucket)) Corrupt("no bucket \"key\": not an etcd database");
  compact_ = MetaRevision(db_, "finishedCompactRev").value_or(-1);
  const int64_t scheduled = MetaRevision(db_, "scheduledCompactRev").value_or(0);
  if (scheduled > compact_) scheduled_compact_ = scheduled;
  if (const std::optional<std::string_view> index = db_.Get(kMetaBucket, "consistent_index")) {
    if (index->size() >= 8) consistent_index_ = Be64(*index);
  }
  db_.ForEach(kKeyBucket, [&](std::string_view key, std::string_view kv) {
    const RowKey row = ParseRowKey(key);
    latest_[UserKey(kv, row)] = Row{row.main, row.sub, row.tombstone, kv};
    newest_row_ = row.main;
    ++rows_;
    return true;
  });
  revision_ = std::max<int64_t>({1, newest_row_, compact_});
  for (const auto& [key, row] : latest_) live_count_ += row.tombstone ? 0 : 1;
}

MvccSnapshot::Index MvccSnapshot::IndexUpTo(int64_t revision, size_t& live) const {
  Index index;
  db_.ForEach(kKeyBucket, [&](std::string_view key, std::string_view kv) {
    const RowKey row = ParseRowKey(key);
    if (row.main > revision) return false;  // rows are in revision order
    index[UserKey(kv, row)] = Row{row.main, row.sub, row.tombstone, kv};
    return true;
  });
  live = 0;
  for (const auto& [key, row] : index) live += row.tombstone ? 0 : 1;
  return index;
}

const std::vector<std::pair<std::string_view, const MvccSnapshot::Row*>>& MvccSnapshot::SortedLive()
    const {
  std::call_once(sorted_once_, [&] {
    sorted_live_.reserve(live_count_);
    for (const auto& [key, row] : latest_) {
      if (!row.tombstone) sorted_live_.emplace_back(key, &row);
    }
    std::sort(sorted_live_.begin(), sorted_live_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  });
  return sorted_live_;
}

void MvccSnapshot::ForEachLive(std::string_view prefix, bool exact,
                               const std::function<void(const LiveKey&)>& visit) const {
  const auto& live = SortedLive();
  auto it = std::lower_bound(live.begin(), live.end(), prefix,
                             [](const auto& entry, std::string_view p) { return entry.first < p; });
  for (; it != live.end(); ++it) {
    if (exact ? it->first != prefix : !it->first.starts_with(prefix)) break;
    const Row& row = *it->second;
    LiveKey out;
    out.key = it->first;
    try {
      ProtobufReader reader(row.kv);
      ProtobufField field;
      while (reader.Next(field)) {
        const bool varint = field.wire_type == 0;
        const auto number = static_cast<int64_t>(field.number_value);
        switch (field.number) {
          case 2:
            if (varint) out.create_revision = number;
            break;
          case 3:
            if (varint) out.mod_revision = number;
            break;
          case 4:
            if (varint) out.version = number;
            break;
          case 5:
            if (field.wire_type == 2) out.value = field.bytes_value;
            break;
          case 6:
            if (varint) out.lease = number;
            break;
          default:
            break;  // the key (known already) and fields of later etcds
        }
      }
    } catch (const Error& e) {
      throw Error::Corrupt("etcd snapshot: " + Describe(row.main, row.sub) + ": " + e.what());
    }
    visit(out);
    if (exact) break;
  }
}

// etcd's HashByRev: CRC-32C of the bucket name "key", then of each row's key and value, in
// bucket order, for the rows up to `revision`. Rows at or below the compact revision are those
// a compaction keeps, or is about to keep (etcd hashes what every member agrees on whether or
// not it has finished compacting): only the ones in `keep`, kvindex.Keep(revision), which for
// each key holds its newest revision up to `revision` unless that is a deletion. When keep is
// empty nothing is skipped. (keyIndex.keep walks generations; a key's newest row up to
// `revision` lies in the generation it finds, and a tombstone ends its generation, so this is the
// same set.) Since 3.5.16 and 3.4.34 compaction no longer removes a tombstone at exactly the
// compact revision and the hash skips it; older versions removed it, so skipping it always gives
// every version's answer. Where versions differ: 3.5 also accepts `revision` equal to the compact
// revision; we answer as 3.4 does (InvalidInput), as the interface says.
std::optional<KvHash> MvccSnapshot::HashKV(int64_t revision) const {
  if (revision < 0)
    throw Error::InvalidInput("HashKV: revision " + std::to_string(revision) + " is negative");
  if (revision > 0 && revision <= compact_) {
    throw Error::InvalidInput("HashKV: revision " + std::to_string(revision) +
                              " has been compacted (compact revision " + std::to_string(compact_) +
                              ")");
  }
  if (revision > revision_) {
    throw Error::InvalidInput("HashKV: revision " + std::to_string(revision) +
                              " is newer than the snapshot's " + std::to_string(revision_));
  }
  if (revision == 0) revision = revision_;
  const Index* keep = &latest_;
  size_t keep_live = live_count_;
  Index older;
  if (revision < newest_row_) {
    older = IndexUpTo(revision, keep_live);
    keep = &older;
  }
  uint32_t crc = Crc32c(0, kKeyBucket);
  db_.ForEach(kKeyBucket, [&](std::string_view key, std::string_view kv) {
    const RowKey row = ParseRowKey(key);
    if (row.main > revision) return false;
    if (row.main <= compact_) {
      if (keep_live > 0) {
        if (row.tombstone) return true;  // never in keep
        const auto it = keep->find(UserKey(kv, row));
        if (it == keep->end() || it->second.main != row.main || it->second.sub != row.sub) {
          return true;
        }
      } else if (row.tombstone && row.main == compact_) {
        return true;
      }
    }
    crc = Crc32c(crc, key);
    crc = Crc32c(crc, kv);
    return true;
  });
  return KvHash{crc, revision, compact_};
}

}  // namespace snapd
