// Tests of lib/inspect: CRC-32C, bbolt files built page by page (valid, and corrupt in each way
// a reader must refuse cleanly), etcd's MVCC layout and HashKV rules, and kine databases.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "bbolt_builder.h"
#include "core/error.h"
#include "inspect/bbolt_file.h"
#include "inspect/crc32c.h"
#include "inspect/mvcc_snapshot.h"
#include "inspect/snapshot_contents.h"
#include "require_error.h"

using namespace snapd;
using snapd::test::BboltBuilder;
using snapd::test::KeyValueRow;
using snapd::test::RevisionKey;
namespace fs = std::filesystem;

namespace {

std::span<const uint8_t> Span(const std::vector<uint8_t>& bytes) {
  return {bytes.data(), bytes.size()};
}

void Put32At(std::vector<uint8_t>& bytes, size_t at, uint32_t value) {
  std::memcpy(bytes.data() + at, &value, 4);
}
void Put16At(std::vector<uint8_t>& bytes, size_t at, uint16_t value) {
  std::memcpy(bytes.data() + at, &value, 2);
}

std::vector<std::pair<std::string, std::string>> Pairs(const BboltFile& db,
                                                       std::string_view bucket) {
  std::vector<std::pair<std::string, std::string>> out;
  db.ForEach(bucket, [&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return true;
  });
  return out;
}

// One row of an etcd key bucket.
struct Row {
  int64_t main = 0;
  bool tombstone = false;
  std::string key, value;
  int64_t create = 0, version = 0, lease = 0;
  std::string RowKey() const { return RevisionKey(main, 0, tombstone); }
  std::string RowValue() const {
    return tombstone ? KeyValueRow(key, "", 0, 0, 0)
                     : KeyValueRow(key, value, create, main, version, lease);
  }
};

// An etcd database: rows in bucket "key" (leaves of `per_leaf` under a branch when more than one
// leaf), meta inline with finishedCompactRev when `compact` >= 0.
std::vector<uint8_t> EtcdDb(const std::vector<Row>& rows, int64_t compact, size_t per_leaf = 3) {
  BboltBuilder b;
  std::vector<std::pair<std::string, uint64_t>> leaves;
  for (size_t i = 0; i < rows.size() || leaves.empty(); i += per_leaf) {
    std::vector<BboltBuilder::Element> elements;
    for (size_t j = i; j < std::min(rows.size(), i + per_leaf); ++j) {
      elements.push_back({rows[j].RowKey(), rows[j].RowValue()});
    }
    const std::string first = elements.empty() ? std::string() : elements[0].key;
    leaves.emplace_back(first, b.Leaf(elements));
  }
  const uint64_t key_root = leaves.size() == 1 ? leaves[0].second : b.Branch(leaves);
  std::vector<BboltBuilder::Element> meta = {
      {"consistent_index", std::string("\0\0\0\0\0\0\0\x2a", 8)}};
  if (compact >= 0) meta.push_back({"finishedCompactRev", RevisionKey(compact)});
  const uint64_t root = b.Leaf({{"key", BboltBuilder::BucketValue(key_root), 0x01},
                                {"meta", BboltBuilder::InlineBucket(meta), 0x01}});
  return b.Finish(root);
}

std::vector<LiveKey> Live(const SnapshotContents& contents, std::string_view prefix = "",
                          bool exact = false) {
  std::vector<LiveKey> out;
  contents.ForEachLive(prefix, exact, [&](const LiveKey& k) { out.push_back(k); });
  return out;
}

uint32_t Crc(const std::vector<std::string>& parts) {
  uint32_t crc = 0;
  for (const std::string& part : parts) crc = Crc32c(crc, part);
  return crc;
}

// The rows of the MVCC scenario: a, b put; a overwritten; b deleted; c put; b recreated; c deleted.
const std::vector<Row> kHistory = {
    {2, false, "a", "1", 2, 1}, {3, false, "b", "x", 3, 1}, {4, false, "a", "2", 2, 2},
    {5, true, "b", ""},         {6, false, "c", "y", 6, 1}, {7, false, "b", "z", 7, 1, 99},
    {8, true, "c", ""},
};
std::vector<Row> RowsAt(std::initializer_list<int64_t> mains) {
  std::vector<Row> out;
  for (int64_t main : mains) {
    for (const Row& row : kHistory) {
      if (row.main == main) out.push_back(row);
    }
  }
  return out;
}
std::vector<std::string> Parts(const std::vector<Row>& rows) {
  std::vector<std::string> parts = {"key"};
  for (const Row& row : rows) {
    parts.push_back(row.RowKey());
    parts.push_back(row.RowValue());
  }
  return parts;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "snapd-inspect.XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("crc32c: known value, and updates in pieces equal one update", "[inspect]") {
  CHECK(Crc32c(0, "123456789") == 0xE3069283u);
  CHECK(Crc32c(0, "") == 0);
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7 + 3);
  const uint32_t whole = Crc32c(0, data);
  for (size_t split : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    CHECK(Crc32c(Crc32c(0, data.substr(0, split)), data.substr(split)) == whole);
  }
}

TEST_CASE("bbolt: buckets, key order, nested and inline buckets, overflow values", "[inspect]") {
  BboltBuilder b;
  const std::string big(10000, 'v');  // spans three 4 KiB pages
  const uint64_t leaf1 = b.Leaf({{"a", "1"}, {"b", big}});
  const uint64_t leaf2 =
      b.Leaf({{"c", "3"}, {"d", BboltBuilder::BucketValue(leaf1), 0x01}, {"e", "5"}});
  const uint64_t branch = b.Branch({{"a", leaf1}, {"c", leaf2}});
  const std::string small = BboltBuilder::InlineBucket({{"k", "v"}, {"l", ""}});
  const uint64_t root = b.Leaf({{"big", BboltBuilder::BucketValue(branch), 0x01},
                                {"plain", "not a bucket"},
                                {"small", small, 0x01}});
  const std::vector<uint8_t> bytes = b.Finish(root, 8);
  BboltFile db(Span(bytes));
  CHECK(db.page_size() == 4096);
  CHECK(db.txid() == 8);
  CHECK(db.HasBucket("big"));
  CHECK(db.HasBucket("small"));
  CHECK_FALSE(db.HasBucket("plain"));
  CHECK_FALSE(db.HasBucket("none"));

  const auto pairs = Pairs(db, "big");
  REQUIRE(pairs.size() == 4);  // the nested bucket "d" is not a pair
  CHECK(pairs[0] == std::make_pair(std::string("a"), std::string("1")));
  CHECK(pairs[1].first == "b");
  CHECK(pairs[1].second == big);
  CHECK(pairs[2].first == "c");
  CHECK(pairs[3].first == "e");
  CHECK(Pairs(db, "small") ==
        std::vector<std::pair<std::string, std::string>>{{"k", "v"}, {"l", ""}});

  CHECK(db.Get("big", "b") == std::optional<std::string_view>(big));
  CHECK(db.Get("big", "e") == std::optional<std::string_view>("5"));
  CHECK(db.Get("big", "a") == std::optional<std::string_view>("1"));
  CHECK_FALSE(db.Get("big", "d").has_value());  // a bucket
  CHECK_FALSE(db.Get("big", "0").has_value());
  CHECK_FALSE(db.Get("big", "bb").has_value());
  CHECK_FALSE(db.Get("big", "z").has_value());
  CHECK(db.Get("small", "k") == std::optional<std::string_view>("v"));
  CHECK_FALSE(db.Get("none", "k").has_value());

  int visited = 0;
  db.ForEach("big", [&](std::string_view, std::string_view) { return ++visited < 2; });
  CHECK(visited == 2);
  RequireError([&] { Pairs(db, "none"); }, ErrorKind::kNotFound, "no bucket none");
}

TEST_CASE("bbolt: the valid meta page with the higher txid is used", "[inspect]") {
  BboltBuilder b;
  const uint64_t old_tree = b.Leaf({{"k", "old"}});
  const uint64_t old_root = b.Leaf({{"bucket", BboltBuilder::BucketValue(old_tree), 0x01}});
  const uint64_t new_tree = b.Leaf({{"k", "new"}});
  const uint64_t new_root = b.Leaf({{"bucket", BboltBuilder::BucketValue(new_tree), 0x01}});
  std::vector<uint8_t> bytes = b.Finish(old_root, 5);
  BboltBuilder::WriteMeta(bytes, 4096, 1, new_root, 6, b.page_count());
  CHECK(BboltFile(Span(bytes)).txid() == 6);
  CHECK(BboltFile(Span(bytes)).Get("bucket", "k") == std::optional<std::string_view>("new"));
  // Meta 1 damaged: meta 0 it is.
  bytes[4096 + 16 + 48] ^= 1;
  CHECK(BboltFile(Span(bytes)).txid() == 5);
  CHECK(BboltFile(Span(bytes)).Get("bucket", "k") == std::optional<std::string_view>("old"));
  // Meta 0 damaged too.
  bytes[16 + 48] ^= 1;
  RequireError([&] { BboltFile db(Span(bytes)); }, ErrorKind::kCorrupt,
               "no valid meta page: page 0: bad checksum; page 1: bad checksum");
}

TEST_CASE("bbolt: corrupt files are refused with what is wrong", "[inspect]") {
  BboltBuilder b;
  const uint64_t leaf = b.Leaf({{"a", "1"}, {"b", "2"}});
  const uint64_t root = b.Leaf({{"bucket", BboltBuilder::BucketValue(leaf), 0x01}});
  const std::vector<uint8_t> good = b.Finish(root);
  const size_t leaf_at = leaf * 4096;
  auto open_and_walk = [](const std::vector<uint8_t>& bytes) {
    BboltFile db(Span(bytes));
    Pairs(db, "bucket");
  };
  REQUIRE_NOTHROW(open_and_walk(good));

  SECTION("not bbolt at all") {
    std::vector<uint8_t> bytes(good.size(), 0x5a);
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "bad magic");
    RequireError([&] { open_and_walk(std::vector<uint8_t>(10, 0)); }, ErrorKind::kCorrupt,
                 "file too short");
  }
  SECTION("bad version") {
    std::vector<uint8_t> bytes = good;
    Put32At(bytes, 16 + 4, 3);
    Put32At(bytes, 4096 + 16 + 4, 3);
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "unsupported version 3");
  }
  SECTION("truncated") {
    std::vector<uint8_t> bytes(good.begin(), good.end() - 4096);
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "truncated");
  }
  SECTION("root page out of range") {
    std::vector<uint8_t> bytes = good;
    BboltBuilder::WriteMeta(bytes, 4096, 0, 99, 8, b.page_count());
    BboltBuilder::WriteMeta(bytes, 4096, 1, 99, 7, b.page_count());
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "root page 99 out of range");
  }
  SECTION("page id out of range, page that is not itself, wrong page type") {
    std::vector<uint8_t> bytes = good;
    Put32At(bytes, leaf_at, 1234);  // the page's own id
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "says it is page 1234");
    bytes = good;
    Put16At(bytes, leaf_at + 8, 0x10);
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt,
                 "is not a branch or leaf page");
    bytes = good;
    Put32At(bytes, leaf_at + 12, 1000);  // overflow
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "overflow pages run past");
  }
  SECTION("elements that do not fit or overrun the page") {
    std::vector<uint8_t> bytes = good;
    Put16At(bytes, leaf_at + 10, 0xffff);
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "65535 elements do not fit");
    bytes = good;
    Put32At(bytes, leaf_at + 16 + 16 + 12, 0xfffffff0);  // vsize of element 1
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "element 1 overruns the page");
    bytes = good;
    Put32At(bytes, leaf_at + 16 + 4, 0xfffffff0);  // pos of element 0
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "element 0 overruns the page");
  }
  SECTION("keys out of order") {
    BboltBuilder c;
    const uint64_t bad = c.Leaf({{"b", "1"}, {"a", "2"}});
    const std::vector<uint8_t> bytes =
        c.Finish(c.Leaf({{"bucket", BboltBuilder::BucketValue(bad), 0x01}}));
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "keys out of order");
  }
  SECTION("a child page id past the end") {
    BboltBuilder c;
    const uint64_t branch = c.Branch({{"a", 50}});
    const std::vector<uint8_t> bytes =
        c.Finish(c.Leaf({{"bucket", BboltBuilder::BucketValue(branch), 0x01}}));
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "page id 50 out of range");
    BboltFile db(Span(bytes));
    RequireError([&] { db.Get("bucket", "a"); }, ErrorKind::kCorrupt, "page id 50 out of range");
  }
  SECTION("cycles: a branch page that is its own child, two that point at each other") {
    for (int length : {1, 2}) {
      BboltBuilder c;
      const uint64_t first = c.page_count();
      uint64_t top = 0;
      if (length == 1) {
        top = c.Branch({{"a", first}, {"m", first}});
      } else {
        top = c.Branch({{"a", first + 1}});
        c.Branch({{"a", first}});
      }
      const std::vector<uint8_t> bytes =
          c.Finish(c.Leaf({{"bucket", BboltBuilder::BucketValue(top), 0x01}}));
      RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "reached twice");
      BboltFile db(Span(bytes));
      RequireError([&] { db.Get("bucket", "a"); }, ErrorKind::kCorrupt, "deeper than 64 levels");
    }
  }
  SECTION("a bucket whose root page is past the end") {
    BboltBuilder c;
    const std::vector<uint8_t> bytes =
        c.Finish(c.Leaf({{"bucket", BboltBuilder::BucketValue(77), 0x01}}));
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt, "page id 77 out of range");
  }
  SECTION("a bucket header that is too short") {
    BboltBuilder c;
    const std::vector<uint8_t> bytes = c.Finish(c.Leaf({{"bucket", "short", 0x01}}));
    RequireError([&] { open_and_walk(bytes); }, ErrorKind::kCorrupt,
                 "bucket bucket: its header is 5 bytes");
  }
}

TEST_CASE("etcd snapshot: live keys, revisions and compaction marks", "[inspect]") {
  // Compacted at 5 as etcd compacts: of revisions <= 5 only a@4 stays (b's newest is a deletion).
  const std::vector<uint8_t> bytes = EtcdDb(RowsAt({4, 6, 7, 8}), 5);
  const auto contents = EtcdSnapshotContents(Span(bytes));
  CHECK(contents->revision() == 8);
  CHECK(contents->compact_revision() == 5);
  CHECK(contents->stored_revisions() == 4);
  CHECK(static_cast<const MvccSnapshot&>(*contents).consistent_index() == 42);

  const std::vector<LiveKey> live = Live(*contents);
  REQUIRE(live.size() == 2);
  CHECK(live[0].key == "a");
  CHECK(live[0].value == "2");
  CHECK(live[0].create_revision == 2);
  CHECK(live[0].mod_revision == 4);
  CHECK(live[0].version == 2);
  CHECK(live[1].key == "b");
  CHECK(live[1].value == "z");
  CHECK(live[1].create_revision == 7);
  CHECK(live[1].mod_revision == 7);
  CHECK(live[1].lease == 99);
  CHECK(Live(*contents, "b", true).size() == 1);
  CHECK(Live(*contents, "c", true).empty());  // deleted
  CHECK(Live(*contents, "", true).empty());
  CHECK(Live(*contents, "a").size() == 1);
  CHECK(Live(*contents, "x").empty());

  SECTION("everything compacted away: the revision is the compact revision") {
    const std::vector<uint8_t> empty = EtcdDb({}, 9);
    const auto none = EtcdSnapshotContents(Span(empty));
    CHECK(none->revision() == 9);
    CHECK(none->stored_revisions() == 0);
    CHECK(Live(*none).empty());
    CHECK(none->HashKV()->hash == Crc32c(0, "key"));
  }
  SECTION("never compacted") {
    const std::vector<uint8_t> all = EtcdDb(kHistory, -1);
    const auto full = EtcdSnapshotContents(Span(all));
    CHECK(full->compact_revision() == 0);
    CHECK(full->stored_revisions() == 7);
    CHECK(Live(*full).size() == 2);
    const std::optional<KvHash> hash = full->HashKV(3);
    REQUIRE(hash.has_value());
    CHECK(hash->hash == Crc(Parts(RowsAt({2, 3}))));
    CHECK(hash->revision == 3);
    CHECK(hash->compact_revision == -1);  // as etcd reports it
  }
}

TEST_CASE("etcd snapshot: HashKV keeps what compaction keeps, as etcd's HashByRev", "[inspect]") {
  SECTION("compacted: rows above the compact revision and the kept ones below") {
    const std::vector<uint8_t> bytes = EtcdDb(RowsAt({4, 6, 7, 8}), 5);
    const auto contents = EtcdSnapshotContents(Span(bytes));
    CHECK(contents->HashKV()->hash == Crc(Parts(RowsAt({4, 6, 7, 8}))));
    CHECK(contents->HashKV(8)->hash == Crc(Parts(RowsAt({4, 6, 7, 8}))));
    CHECK(contents->HashKV(6)->hash == Crc(Parts(RowsAt({4, 6}))));
    CHECK(contents->HashKV(6)->revision == 6);
    CHECK(contents->HashKV(6)->compact_revision == 5);
    RequireError([&] { contents->HashKV(5); }, ErrorKind::kInvalidInput, "has been compacted");
    RequireError([&] { contents->HashKV(9); }, ErrorKind::kInvalidInput,
                 "newer than the snapshot's 8");
    RequireError([&] { contents->HashKV(-1); }, ErrorKind::kInvalidInput, "negative");
  }
  SECTION("rows a compaction will remove are left out (compaction not finished)") {
    const std::vector<uint8_t> bytes = EtcdDb(kHistory, 5);
    const auto contents = EtcdSnapshotContents(Span(bytes));
    // At 8 keep is {a@4, b@7}: of the rows <= 5 only a@4 counts.
    CHECK(contents->HashKV(8)->hash == Crc(Parts(RowsAt({4, 6, 7, 8}))));
    // At 6 keep is {a@4, c@6}: still only a@4 below.
    CHECK(contents->HashKV(6)->hash == Crc(Parts(RowsAt({4, 6}))));
  }
  SECTION("rows below the compact revision count while they are their key's newest") {
    const std::vector<uint8_t> bytes = EtcdDb(RowsAt({2, 3, 4, 5}), 3);
    const auto contents = EtcdSnapshotContents(Span(bytes));
    // At 4 keep is {a@4, b@3}: a@2 is superseded, b@3 is not yet.
    CHECK(contents->HashKV(4)->hash == Crc(Parts(RowsAt({3, 4}))));
    // At 5 b is deleted: keep is {a@4}.
    CHECK(contents->HashKV(5)->hash == Crc(Parts(RowsAt({4, 5}))));
  }
  SECTION("keep empty, and a deletion at exactly the compact revision (etcd 3.5.16+) skipped") {
    // a put at 2, deleted at 3; compaction at 3 kept the deletion, as newer etcds do.
    const std::vector<Row> rows = {
        {3, true, "a", ""}, {4, false, "b", "x", 4, 1}, {5, true, "b", ""}};
    const std::vector<uint8_t> bytes = EtcdDb(rows, 3);
    const auto contents = EtcdSnapshotContents(Span(bytes));
    CHECK(Live(*contents).empty());
    CHECK(contents->HashKV(5)->hash == Crc(Parts({rows[1], rows[2]})));
    // At 4 keep is {b@4}: the deletion is skipped as any row not kept.
    CHECK(contents->HashKV(4)->hash == Crc(Parts({rows[1]})));
  }
  SECTION("keep empty, all rows hashed") {
    const std::vector<Row> rows = {{2, false, "a", "1", 2, 1}, {3, true, "a", ""}};
    const std::vector<uint8_t> bytes = EtcdDb(rows, 2);
    const auto contents = EtcdSnapshotContents(Span(bytes));
    CHECK(contents->HashKV(3)->hash == Crc(Parts(rows)));
  }
}

TEST_CASE("etcd snapshot: not an etcd database, or damaged rows", "[inspect]") {
  BboltBuilder b;
  const std::vector<uint8_t> no_key_bucket =
      b.Finish(b.Leaf({{"other", BboltBuilder::InlineBucket({{"k", "v"}}), 0x01}}));
  RequireError([&] { EtcdSnapshotContents(Span(no_key_bucket)); }, ErrorKind::kCorrupt,
               "no bucket \"key\"");

  auto with_key_rows = [](std::vector<BboltBuilder::Element> rows) {
    BboltBuilder c;
    return c.Finish(c.Leaf({{"key", BboltBuilder::InlineBucket(rows), 0x01}}));
  };
  const std::vector<uint8_t> short_key = with_key_rows({{"12345", KeyValueRow("a", "1", 1, 1, 1)}});
  RequireError([&] { EtcdSnapshotContents(Span(short_key)); }, ErrorKind::kCorrupt,
               "a key of 5 bytes is not a revision");
  const std::vector<uint8_t> bad_row = with_key_rows({{RevisionKey(2), "\x0a\x7f"}});
  RequireError([&] { EtcdSnapshotContents(Span(bad_row)); }, ErrorKind::kCorrupt,
               "revision 2_0: protobuf: truncated");
  const std::vector<uint8_t> keyless =
      with_key_rows({{RevisionKey(2), std::string("\x10\x02", 2)}});
  RequireError([&] { EtcdSnapshotContents(Span(keyless)); }, ErrorKind::kCorrupt,
               "revision 2_0: the row has no key");
}

TEST_CASE("OpenSnapshotContents: etcd files with and without etcdctl's trailer", "[inspect]") {
  TempDir dir;
  std::vector<uint8_t> bytes = EtcdDb(RowsAt({4, 6, 7, 8}), 5);
  const fs::path plain = dir.path() / "plain.db";
  std::ofstream(plain, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  bytes.insert(bytes.end(), 32, '\x11');  // a SHA-256 trailer
  const fs::path trailer = dir.path() / "trailer.db";
  std::ofstream(trailer, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  for (const fs::path& path : {plain, trailer}) {
    const auto contents = OpenSnapshotContents(path.string());
    CHECK(contents->revision() == 8);
    CHECK(Live(*contents).size() == 2);
    CHECK(contents->HashKV().has_value());
  }
  const fs::path junk = dir.path() / "junk";
  std::ofstream(junk) << "PK\x03\x04 a zip file";
  RequireError([&] { OpenSnapshotContents(junk.string()); }, ErrorKind::kCorrupt,
               "neither an etcd (bbolt) nor a kine (SQLite) database");
  RequireError([&] { OpenSnapshotContents((dir.path() / "missing").string()); },
               ErrorKind::kNotFound, "no such file");
  bytes[16 + 48] ^= 1;
  bytes[4096 + 16 + 48] ^= 1;
  std::ofstream(trailer, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  RequireError([&] { OpenSnapshotContents(trailer.string()); }, ErrorKind::kCorrupt,
               "trailer.db: bbolt: no valid meta page");
}

TEST_CASE("kine: live rows, revisions, read without writing anything", "[inspect]") {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const char* sql = R"(
      PRAGMA journal_mode = WAL;
      CREATE TABLE kine (id INTEGER PRIMARY KEY AUTOINCREMENT, name INTEGER, created INTEGER,
        deleted INTEGER, create_revision INTEGER, prev_revision INTEGER, lease INTEGER,
        value BLOB, old_value BLOB);
      CREATE INDEX kine_name_index ON kine (name);
      INSERT INTO kine VALUES (1, '/a', 1, 0, 0, 0, 0, 'a1', NULL);
      INSERT INTO kine VALUES (2, '/b', 1, 0, 0, 0, 5, 'b1', NULL);
      INSERT INTO kine VALUES (3, '/a', 0, 0, 1, 1, 0, 'a2', 'a1');
      INSERT INTO kine VALUES (4, '/b', 0, 1, 2, 2, 0, 'b1', 'b1');
      INSERT INTO kine VALUES (5, 'gap-5', 0, 1, 0, 5, 0, NULL, NULL);
      INSERT INTO kine VALUES (6, '/c', 1, 0, 0, 0, 0, X'00ff', NULL);
      INSERT INTO kine VALUES (7, 'compact_rev_key', 1, 0, 0, 3, 0, '', NULL);
      INSERT INTO kine VALUES (8, '/a/x', 1, 0, 0, 0, 0, 'ax', NULL);
    )";
    REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_close(db) == SQLITE_OK);
  }
  const std::string before = ReadAll(path);
  {
    const auto contents = OpenSnapshotContents(path.string());
    CHECK(contents->revision() == 8);
    CHECK(contents->compact_revision() == 3);
    CHECK(contents->stored_revisions() == 8);
    CHECK_FALSE(contents->HashKV().has_value());
    const std::vector<LiveKey> live = Live(*contents);
    REQUIRE(live.size() == 3);
    CHECK(live[0].key == "/a");
    CHECK(live[0].value == "a2");
    CHECK(live[0].create_revision == 1);
    CHECK(live[0].mod_revision == 3);
    CHECK(live[0].version == 0);
    CHECK(live[1].key == "/a/x");
    CHECK(live[1].create_revision == 8);
    CHECK(live[2].key == "/c");
    CHECK(live[2].value == std::string("\0\xff", 2));
    CHECK(live[2].create_revision == 6);
    CHECK(Live(*contents, "/a").size() == 2);
    CHECK(Live(*contents, "/a", true).size() == 1);
    CHECK(Live(*contents, "/b", true).empty());  // deleted
    CHECK(Live(*contents, "compact_rev_key", true).empty());
    CHECK(Live(*contents, "/c", true)[0].value == std::string("\0\xff", 2));
    // Views stay valid while the contents live, after other queries.
    const std::vector<LiveKey> again = Live(*contents, "/a");
    Live(*contents, "/c");
    CHECK(again[0].value == "a2");
    CHECK_FALSE(fs::exists(path.string() + "-wal"));
    CHECK_FALSE(fs::exists(path.string() + "-shm"));
  }
  CHECK(ReadAll(path) == before);
  CHECK_FALSE(fs::exists(path.string() + "-wal"));
  CHECK_FALSE(fs::exists(path.string() + "-shm"));

  const fs::path other = dir.path() / "other.db";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(other.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  RequireError([&] { OpenSnapshotContents(other.string()); }, ErrorKind::kCorrupt, "no table kine");
}
