// Tests of lib/snapshot (names, records, token hash, integrity check) and lib/core/time_format:
// the k3s formats that let users move snapshots between k3s and k3s-snapd.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/error.h"
#include "core/time_format.h"
#include "snapshot/snapshot_integrity.h"
#include "snapshot/snapshot_name.h"
#include "snapshot/snapshot_record.h"
#include "snapshot/token_hash.h"

using namespace snapd;

namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// `blocks` * 512 bytes of data followed by their SHA-256: a well-formed etcd snapshot.
std::string SyntheticSnapshot(size_t blocks, uint32_t seed) {
  std::string data = RandomBytes(blocks * 512, seed);
  Sha256Digest digest = Sha256::Of(data);
  data.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return data;
}

// Feeds `bytes` to a fresh checker in pieces of the given sizes (cycled) and finishes it.
SnapshotDigest CheckInPieces(const std::string& bytes, const std::vector<size_t>& sizes) {
  SnapshotIntegrity check;
  size_t pos = 0;
  for (size_t i = 0; pos < bytes.size(); ++i) {
    size_t n = std::min(sizes[i % sizes.size()], bytes.size() - pos);
    check.Write(std::string_view(bytes).substr(pos, n));
    pos += n;
  }
  return check.Finish();
}

SnapshotRecord SampleRecord() {
  SnapshotRecord r;
  r.name = "etcd-snapshot-node-1.example.com-1700000000";
  r.node = "node-1.example.com";
  r.storage = "local";
  r.location = "file:///var/lib/rancher/k3s/server/db/snapshots/" + r.name;
  r.size = 20480032;
  r.sha256 = Sha256::HexOf("whatever");
  r.created_at = 1700000000;
  r.status = "ready";
  r.token_hash = "5e884898da28";
  r.compressed = false;
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Names

TEST_CASE("snapshot names follow k3s's <prefix>-<node>-<unix>", "[names]") {
  CHECK(FormatSnapshotName("etcd-snapshot", "server-1", 1700000000) ==
        "etcd-snapshot-server-1-1700000000");
  CHECK(FormatSnapshotName(kOnDemandPrefix, "ip-10-0-0-1.ec2.internal", 1700000123) ==
        "on-demand-ip-10-0-0-1.ec2.internal-1700000123");
  CHECK(FormatSnapshotName(kScheduledPrefix, "n", 0) == "etcd-snapshot-n-0");
}

TEST_CASE("formatted names parse back to their time", "[names]") {
  for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{1700000000}, int64_t{4102444800}}) {
    for (std::string node : {"n1", "node-2", "a.b-c.d", "node-1-2-3"}) {
      std::string name = FormatSnapshotName("etcd-snapshot", node, t);
      INFO(name);
      CHECK(ParseSnapshotTime(name) == t);
      CHECK(ParseSnapshotTime(name + ".zip") == t);
      CHECK(HasNamePrefix(name, "etcd-snapshot"));
      CHECK_NOTHROW(ValidateSnapshotName(name));
    }
  }
}

TEST_CASE("ValidateSnapshotName rejects unsafe names", "[names]") {
  struct Case {
    std::string name;
    std::string why;
  };
  std::vector<Case> bad = {
      {"", "empty"},
      {"../../etc/passwd", "'.'"},  // starts with '.' and has a separator: either way refused
      {"a/b", "path separator"},
      {"a\\b", "path separator"},
      {"etc/passwd", "path separator"},
      {".hidden", "'.'"},
      {".", "'.'"},
      {"..", "'.'"},
      {"x.part", ".part"},
      {"etcd-snapshot-n-1700000000.part", ".part"},
      {"tab\there", "control"},
      {"new\nline", "control"},
      {"del\x7f", "control"},
      {std::string("nul\0byte", 8), "control"},
      {std::string(256, 'a'), "255"},
  };
  for (const Case& c : bad) {
    INFO("name of " << c.name.size() << " bytes");
    RequireError([&] { ValidateSnapshotName(c.name); }, ErrorKind::kInvalidInput, c.why);
  }
  // The message says what was checked, and control characters do not reach it verbatim.
  RequireError([] { ValidateSnapshotName("a/b", "restore path"); }, ErrorKind::kInvalidInput,
               "restore path \"a/b\"");
  try {
    ValidateSnapshotName("evil\nline");
    FAIL("accepted a newline");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
}

TEST_CASE("ValidateSnapshotName accepts k3s names", "[names]") {
  for (std::string name :
       std::vector<std::string>{"etcd-snapshot-server-1-1700000000", "on-demand-n1-1700000000.zip",
                                "etcd-snapshot-ip-10-0-0-1.ec2.internal-1700000000", "my_backup",
                                "a", "x.partial", "part", "a..b", std::string(255, 'b')}) {
    INFO(name);
    CHECK_NOTHROW(ValidateSnapshotName(name));
  }
}

TEST_CASE("ValidateNamePrefix allows only [A-Za-z0-9._-] not starting with . or -", "[names]") {
  for (std::string p : {"etcd-snapshot", "on-demand", "nightly_1.2", "A", "9lives"}) {
    INFO(p);
    CHECK_NOTHROW(ValidateNamePrefix(p));
  }
  for (std::string p : {"", ".hidden", "-dash", "a/b", "a b", "a:b", "ü", "a\n"}) {
    INFO(p);
    CHECK_THROWS_AS(ValidateNamePrefix(p), Error);
  }
  RequireError([] { ValidateNamePrefix("a/b", "etcd-snapshot-name"); }, ErrorKind::kInvalidInput,
               "etcd-snapshot-name");
}

TEST_CASE("ParseSnapshotTime takes the digits after the last dash", "[names]") {
  CHECK(ParseSnapshotTime("etcd-snapshot-server-1700000000") == 1700000000);
  CHECK(ParseSnapshotTime("etcd-snapshot-node-1-1700000000") == 1700000000);
  CHECK(ParseSnapshotTime("etcd-snapshot-node-1-1700000000.zip") == 1700000000);
  CHECK(ParseSnapshotTime("on-demand-n1-1700000000.zip") == 1700000000);
  CHECK(ParseSnapshotTime("on-demand-10.0.0.1-1700000042") == 1700000042);
  CHECK(ParseSnapshotTime("etcd-snapshot-n-1700000000.zip.age") == 1700000000);
  CHECK(ParseSnapshotTime("etcd-snapshot-n-1700000000.zst") == 1700000000);
  // No time in the name: k3s falls back to the file time, so must we.
  CHECK(ParseSnapshotTime("my_backup") == std::nullopt);
  CHECK(ParseSnapshotTime("etcd-snapshot-node") == std::nullopt);
  CHECK(ParseSnapshotTime("etcd-snapshot-node-") == std::nullopt);
  CHECK(ParseSnapshotTime("etcd-snapshot-node-17x0") == std::nullopt);
  CHECK(ParseSnapshotTime("etcd-snapshot-node-+170") == std::nullopt);
  CHECK(ParseSnapshotTime("etcd-snapshot-n-1700000000.part") == std::nullopt);
  CHECK(ParseSnapshotTime("etcd-snapshot-n-1700000000.tar") == std::nullopt);
  CHECK(ParseSnapshotTime("etcd-snapshot-n-99999999999999999999999") == std::nullopt);
  CHECK(ParseSnapshotTime("") == std::nullopt);
  CHECK(ParseSnapshotTime(".zip") == std::nullopt);
}

TEST_CASE("HasNamePrefix needs the dash after the prefix", "[names]") {
  CHECK(HasNamePrefix("etcd-snapshot-n1-1700000000", "etcd-snapshot"));
  CHECK(HasNamePrefix("etcd-snapshot-n1-1700000000.zip", "etcd-snapshot"));
  CHECK_FALSE(HasNamePrefix("etcd-snapshotx-n1-1700000000", "etcd-snapshot"));
  CHECK_FALSE(HasNamePrefix("etcd-snapshot", "etcd-snapshot"));
  CHECK_FALSE(HasNamePrefix("etcd-snapshot-", "etcd-snapshot-x"));
  CHECK_FALSE(HasNamePrefix("on-demand-n1-1700000000", "etcd-snapshot"));
  CHECK(HasNamePrefix("on-demand-n1-1700000000", "on-demand"));
  CHECK(HasNamePrefix("on-demand-n1-1700000000", "on"));  // "on-" is a prefix too
  CHECK(IsZipName("on-demand-n1-1700000000.zip"));
  CHECK_FALSE(IsZipName("on-demand-n1-1700000000"));
  CHECK_FALSE(IsZipName("zip"));
}

// ---------------------------------------------------------------------------------------------
// Records

TEST_CASE("record metadata JSON round trips", "[names]") {
  SnapshotRecord r = SampleRecord();
  std::string body = RecordToMetadataJson(r);

  // A flat object of strings, as k3s expects its extra-metadata files to be.
  nlohmann::json j = nlohmann::json::parse(body);
  REQUIRE(j.is_object());
  for (auto& [key, value] : j.items()) {
    INFO(key);
    CHECK(value.is_string());
  }

  // Compression and encryption are what the name says; the rest comes from the record.
  const std::string base = r.name;
  struct Case {
    std::string suffix;
    bool compressed, encrypted, token_backup;
  };
  for (const Case& c : {Case{"", false, false, false}, Case{".zip", true, false, false},
                        Case{".zst", true, false, false}, Case{".age", false, true, true},
                        Case{".zip.age", true, true, false}}) {
    INFO(c.suffix);
    r.name = base + c.suffix;
    r.token_backup = c.token_backup;
    r.error = c.token_backup ? "" : "why it failed";
    SnapshotRecord back;
    back.name = r.name;
    back.storage = "local";
    back.location = r.location;
    REQUIRE(MergeMetadataJson(RecordToMetadataJson(r), back));
    CHECK(back.name == r.name);
    CHECK(back.node == r.node);
    CHECK(back.size == r.size);
    CHECK(back.sha256 == r.sha256);
    CHECK(back.created_at == r.created_at);
    CHECK(back.status == r.status);
    CHECK(back.token_hash == r.token_hash);
    CHECK(back.compressed == c.compressed);
    CHECK(back.encrypted == c.encrypted);
    CHECK(back.token_backup == c.token_backup);
    CHECK(back.error == r.error);
  }
  r.name = base;

  SnapshotRecord failed = SampleRecord();
  failed.status = "failed";
  failed.size = 0;
  SnapshotRecord back;
  REQUIRE(MergeMetadataJson(RecordToMetadataJson(failed), back));
  CHECK(back.status == "failed");
  CHECK(back.size == 0);
}

TEST_CASE("records say which datastore they came from and its revisions", "[names]") {
  SnapshotRecord etcd = SampleRecord();
  CHECK(etcd.datastore == "etcd");
  nlohmann::json api = RecordToApiJson(etcd);
  CHECK(api["datastore"] == "etcd");
  CHECK_FALSE(api.contains("revision"));  // etcd's stream does not say
  CHECK_FALSE(nlohmann::json::parse(RecordToMetadataJson(etcd)).contains("revision"));

  SnapshotRecord sqlite = SampleRecord();
  sqlite.datastore = "sqlite";
  sqlite.revision = 123456789012;
  sqlite.compact_revision = 123456000000;
  SnapshotRecord back;
  REQUIRE(MergeMetadataJson(RecordToMetadataJson(sqlite), back));
  CHECK(back.datastore == "sqlite");
  CHECK(back.revision == 123456789012);
  CHECK(back.compact_revision == 123456000000);
  api = RecordToApiJson(sqlite);
  CHECK(api["datastore"] == "sqlite");
  CHECK(api["revision"] == 123456789012);
  CHECK(api["compactRevision"] == 123456000000);
  back = RecordFromApiJson(nlohmann::json::parse(api.dump()));
  CHECK(back.datastore == "sqlite");
  CHECK(back.revision == 123456789012);
  CHECK(back.compact_revision == 123456000000);

  // Records written before SQLite existed are etcd ones; an unknown datastore is not ours.
  nlohmann::json old = nlohmann::json::parse(RecordToMetadataJson(etcd));
  old.erase("datastore");
  back = SnapshotRecord{};
  back.datastore = "sqlite";
  REQUIRE(MergeMetadataJson(old.dump(), back));
  CHECK(back.datastore == "etcd");
  nlohmann::json odd = nlohmann::json::parse(RecordToMetadataJson(etcd));
  odd["datastore"] = "mysql";
  CHECK_FALSE(MergeMetadataJson(odd.dump(), back));
  odd["datastore"] = "sqlite";
  odd["revision"] = "many";
  CHECK_FALSE(MergeMetadataJson(odd.dump(), back));
}

TEST_CASE("record metadata is written when a node name or error is not UTF-8", "[names]") {
  // Found by fuzzing: a strict JSON dump threw, so a failed save's record was never written.
  SnapshotRecord r = SampleRecord();
  r.node = "caf\xe9";
  r.status = "failed";
  r.error = "open /srv/\xff/snapshots: Permission denied";
  SnapshotRecord back;
  REQUIRE(MergeMetadataJson(RecordToMetadataJson(r), back));
  CHECK(back.node == "caf\uFFFD");
  CHECK(back.error == "open /srv/\uFFFD/snapshots: Permission denied");
  CHECK(back.status == "failed");
}

TEST_CASE("metadata that is not ours leaves the record untouched", "[names]") {
  SnapshotRecord original = SampleRecord();
  std::vector<std::string> foreign = {
      R"({"cluster":"prod","owner":"ops"})",  // k3s extra metadata: flat strings, no version
      R"({})",
      R"([1,2,3])",
      R"("a string")",
      R"(null)",
      "",
      "not json at all",
      "{\"k3s-snapd-record-version\":",  // cut
      R"({"k3s-snapd-record-version":"999","node":"x","size":"1","status":"ready"})",
      R"({"k3s-snapd-record-version":1,"node":"x","size":"1","status":"ready"})",
      R"({"k3s-snapd-record-version":"1","node":"x","size":"lots","status":"ready"})",
      R"({"k3s-snapd-record-version":"1","node":"x","size":"1","status":"weird"})",
      std::string("\xff\xfe{\"a\":1}"),
      std::string(100000, '['),
  };
  for (const std::string& body : foreign) {
    INFO(body.substr(0, 80));
    SnapshotRecord r = original;
    bool merged = true;
    CHECK_NOTHROW(merged = MergeMetadataJson(body, r));
    CHECK_FALSE(merged);
    CHECK(r.node == original.node);
    CHECK(r.size == original.size);
    CHECK(r.sha256 == original.sha256);
    CHECK(r.status == original.status);
    CHECK(r.created_at == original.created_at);
  }
}

TEST_CASE("record API JSON round trips", "[names]") {
  SnapshotRecord r = SampleRecord();
  nlohmann::json j = RecordToApiJson(r);
  CHECK(j["createdAt"] == "2023-11-14T22:13:20Z");
  CHECK(j["size"] == 20480032);
  CHECK_FALSE(j.contains("error"));
  SnapshotRecord back = RecordFromApiJson(nlohmann::json::parse(j.dump()));
  CHECK(back.name == r.name);
  CHECK(back.node == r.node);
  CHECK(back.storage == r.storage);
  CHECK(back.location == r.location);
  CHECK(back.size == r.size);
  CHECK(back.sha256 == r.sha256);
  CHECK(back.created_at == r.created_at);
  CHECK(back.status == r.status);
  CHECK(back.token_hash == r.token_hash);
  CHECK(back.compressed == r.compressed);
  CHECK(back.error.empty());

  r.status = "failed";
  r.error = "upload: connection reset";
  r.compressed = true;
  r.sha256.clear();
  j = RecordToApiJson(r);
  CHECK(j["error"] == "upload: connection reset");
  back = RecordFromApiJson(j);
  CHECK(back.status == "failed");
  CHECK(back.error == r.error);
  CHECK(back.compressed);
  CHECK(back.sha256.empty());
}

TEST_CASE("RecordFromApiJson names the missing or mistyped field", "[names]") {
  const nlohmann::json good = RecordToApiJson(SampleRecord());
  for (std::string field : {"name", "node", "storage", "location", "size", "createdAt",
                            "compressed", "status", "tokenHash"}) {
    INFO(field);
    nlohmann::json missing = good;
    missing.erase(field);
    RequireError([&] { RecordFromApiJson(missing); }, ErrorKind::kInvalidInput, field);
    nlohmann::json mistyped = good;
    mistyped[field] = nlohmann::json::array();
    RequireError([&] { RecordFromApiJson(mistyped); }, ErrorKind::kInvalidInput, field);
  }
  nlohmann::json j = good;
  j["size"] = -1;
  RequireError([&] { RecordFromApiJson(j); }, ErrorKind::kInvalidInput, "size");
  j = good;
  j["size"] = 1.5;
  RequireError([&] { RecordFromApiJson(j); }, ErrorKind::kInvalidInput, "size");
  j = good;
  j["createdAt"] = "yesterday";
  RequireError([&] { RecordFromApiJson(j); }, ErrorKind::kInvalidInput, "createdAt");
  RequireError([] { RecordFromApiJson(nlohmann::json::array()); }, ErrorKind::kInvalidInput,
               "object");
}

// ---------------------------------------------------------------------------------------------
// Token hash (expected values from `printf %s <password> | sha256sum | cut -c1-12`)

TEST_CASE("TokenHash hashes the password part of a k3s token", "[names]") {
  const std::string ca = "K10" + std::string(64, 'a');
  CHECK(TokenHash(ca + "::server:password") == "5e884898da28");
  CHECK(TokenHash("password") == "5e884898da28");
  CHECK(TokenHash("  password\n") == "5e884898da28");
  CHECK(TokenHash("\t" + ca + "::server:password\r\n") == "5e884898da28");
  CHECK(TokenHash(ca + "::node:s3cr3t") == "4e738ca5563c");
  CHECK(TokenHash("s3cr3t") == "4e738ca5563c");
  // Only the first ':' of the credentials separates user and password (Go's SplitN(.., 2)).
  CHECK(TokenHash(ca + "::server:p:w") == "7661ec1bd53c");
  // A bare value is the password, colons and all.
  CHECK(TokenHash("abc:def") == "ec5952851b80");
  CHECK(TokenHash("K10abc") == "e42b46867622");
  CHECK(TokenHash("") == "");
  CHECK(TokenHash(" \n\t") == "");
  CHECK(TokenHash("password").size() == 12);
}

// ---------------------------------------------------------------------------------------------
// Snapshot integrity

TEST_CASE("a well-formed snapshot passes in any chunking", "[names]") {
  for (size_t blocks : {size_t{0}, size_t{1}, size_t{3}, size_t{17}}) {
    const std::string snapshot = SyntheticSnapshot(blocks, 42 + blocks);
    const std::string whole_sha = Sha256::HexOf(snapshot);
    INFO("blocks " << blocks);
    for (size_t chunk = 1; chunk <= 40; ++chunk) {
      INFO("chunk " << chunk);
      SnapshotDigest d = CheckInPieces(snapshot, {chunk});
      CHECK(d.size == snapshot.size());
      CHECK(d.sha256 == whole_sha);
    }
    for (const std::vector<size_t>& sizes : std::vector<std::vector<size_t>>{{snapshot.size()},
                                                                             {1, 31, 32, 33, 7},
                                                                             {31, 1},
                                                                             {33, 0, 64, 5},
                                                                             {511, 513},
                                                                             {1000, 1, 1, 1}}) {
      SnapshotDigest d = CheckInPieces(snapshot, sizes);
      CHECK(d.size == snapshot.size());
      CHECK(d.sha256 == whole_sha);
    }
    // Split at every point into two writes, then into three.
    for (size_t cut = 0; cut <= snapshot.size(); cut += blocks > 3 ? 97 : 1) {
      INFO("cut " << cut);
      CHECK(CheckInPieces(snapshot, {cut == 0 ? snapshot.size() : cut, snapshot.size()}).size ==
            snapshot.size());
    }
  }
  std::mt19937 rng(7);
  const std::string snapshot = SyntheticSnapshot(40, 9);
  for (int round = 0; round < 50; ++round) {
    std::vector<size_t> sizes;
    for (int i = 0; i < 20; ++i) sizes.push_back(rng() % 700 + 1);
    CHECK(CheckInPieces(snapshot, sizes).sha256 == Sha256::HexOf(snapshot));
  }
}

TEST_CASE("a damaged snapshot fails the check", "[names]") {
  const std::string good = SyntheticSnapshot(8, 1);
  // Any flipped byte, in the data or in the trailer.
  for (size_t pos :
       {size_t{0}, size_t{1}, size_t{511}, good.size() - 33, good.size() - 32, good.size() - 1}) {
    std::string bad = good;
    bad[pos] ^= 0x01;
    INFO("flipped byte " << pos);
    for (size_t chunk : {size_t{1}, size_t{32}, size_t{100}, bad.size()}) {
      RequireError([&] { CheckInPieces(bad, {chunk}); }, ErrorKind::kCorrupt, "SHA-256");
    }
  }
  // Truncated by one block: the size class still fits, the trailer does not.
  RequireError([&] { CheckInPieces(good.substr(0, good.size() - 512), {64}); }, ErrorKind::kCorrupt,
               "trailer does not match");
  // Truncated anywhere else: wrong size class.
  for (size_t len : {good.size() - 1, good.size() - 32, size_t{512}, size_t{1000}}) {
    INFO("length " << len);
    RequireError([&] { CheckInPieces(good.substr(0, len), {100}); }, ErrorKind::kCorrupt, "size");
  }
  // A database of the right size class with no trailer at all.
  std::string untrailed = RandomBytes(512 * 3 + 32, 5);
  RequireError([&] { CheckInPieces(untrailed, {77}); }, ErrorKind::kCorrupt, "trailer");
  // Too short to hold a trailer.
  for (size_t len : {size_t{0}, size_t{1}, size_t{31}}) {
    SnapshotIntegrity check;
    check.Write(std::string(len, 'x'));
    RequireError([&] { check.Finish(); }, ErrorKind::kCorrupt, "too short");
  }
  // Right hash but wrong size class: data that is not a whole number of 512-byte blocks.
  std::string odd = RandomBytes(1000, 3);
  Sha256Digest digest = Sha256::Of(odd);
  odd.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  RequireError([&] { CheckInPieces(odd, {10}); }, ErrorKind::kCorrupt, "size 1032");
}

// ---------------------------------------------------------------------------------------------
// RFC 3339 (expected values from `date -u -d @<t> +%Y-%m-%dT%H:%M:%SZ`)

TEST_CASE("FormatRfc3339 and ParseRfc3339 round trip", "[names]") {
  struct Known {
    int64_t unix;
    const char* text;
  };
  for (Known k :
       {Known{0, "1970-01-01T00:00:00Z"}, Known{1700000000, "2023-11-14T22:13:20Z"},
        Known{951782400, "2000-02-29T00:00:00Z"}, Known{-1, "1969-12-31T23:59:59Z"},
        Known{-86400, "1969-12-31T00:00:00Z"}, Known{253402300799, "9999-12-31T23:59:59Z"},
        Known{1709164799, "2024-02-28T23:59:59Z"}, Known{4102444800, "2100-01-01T00:00:00Z"}}) {
    INFO(k.text);
    CHECK(FormatRfc3339(k.unix) == k.text);
    CHECK(ParseRfc3339(k.text) == k.unix);
  }
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    int64_t t = static_cast<int64_t>(rng() % 253402300800ULL);
    CHECK(ParseRfc3339(FormatRfc3339(t)) == t);
  }
}

TEST_CASE("ParseRfc3339 takes offsets and fractions", "[names]") {
  // `date -u -d '2024-02-29T12:34:56+05:30' +%s` and friends.
  CHECK(ParseRfc3339("2024-02-29T12:34:56+05:30") == 1709190296);
  CHECK(ParseRfc3339("2023-12-31T23:59:59-08:00") == 1704095999);
  CHECK(ParseRfc3339("1969-07-20T20:17:40Z") == -14182940);
  CHECK(ParseRfc3339("2023-11-14T22:13:20.123456789Z") == 1700000000);
  CHECK(ParseRfc3339("2023-11-14T22:13:20.5+00:00") == 1700000000);
  CHECK(ParseRfc3339("2023-11-14t22:13:20z") == 1700000000);
  CHECK(ParseRfc3339("2023-11-15T00:13:20+02:00") == 1700000000);
  CHECK(ParseRfc3339("2023-11-14T22:13:20-00:00") == 1700000000);
}

TEST_CASE("ParseRfc3339 rejects malformed times", "[names]") {
  for (std::string bad : {
           "",
           "2023-11-14",
           "2023-11-14T22:13:20",         // no zone
           "2023-11-14 22:13:20Z",        // space for T
           "2023-11-14T22:13Z",           // no seconds
           "2023-13-14T22:13:20Z",        // month 13
           "2023-00-14T22:13:20Z",        // month 0
           "2023-11-00T22:13:20Z",        // day 0
           "2023-11-32T22:13:20Z",        // day 32
           "2023-02-30T22:13:20Z",        // no 30 February
           "2023-02-29T22:13:20Z",        // not a leap year
           "2023-04-31T22:13:20Z",        // April has 30 days
           "2023-11-14T24:00:00Z",        // hour 24
           "2023-11-14T22:60:00Z",        // minute 60
           "2023-11-14T-1:13:20Z",        // negative hour
           "2023-11-14T22:-1:20Z",        // negative minute
           "-023-11-14T22:13:20Z",        // negative year
           "2023-11-14T22:13:20+5:30",    // short offset
           "2023-11-14T22:13:20+05:30x",  // trailing junk
           "2023-11-14T22:13:20Zjunk",    // trailing junk
           "2023-11-14T22:13:20+24:00",   // offset hour 24
           "2023-11-14T22:13:20+05:60",   // offset minute 60
           "2023-11-14T22:13:20+-5:00",   // signed offset hour
           "2023-11-14T22:13:20.Z",       // fraction without digits
           "2O23-11-14T22:13:20Z",        // letter O
           "2023-11-14T22:13:20.12a3Z",   // junk in fraction
       }) {
    INFO(bad);
    CHECK(ParseRfc3339(bad) == std::nullopt);
  }
  CHECK(ParseRfc3339("2024-02-29T00:00:00Z") == 1709164800);  // leap day is fine
}

TEST_CASE("stored names say the encoding, and only the suffixes count", "[names]") {
  using C = Compression;
  struct Case {
    C compression;
    bool encrypted;
    std::string stored;
  };
  const std::string base = "etcd-snapshot-node.a-1700000000";
  for (const Case& c :
       {Case{C::kNone, false, base}, Case{C::kZip, false, base + ".zip"},
        Case{C::kZstd, false, base + ".zst"}, Case{C::kNone, true, base + ".age"},
        Case{C::kZip, true, base + ".zip.age"}, Case{C::kZstd, true, base + ".zst.age"}}) {
    INFO(c.stored);
    CHECK(EncodedSnapshotName(base, {c.compression, c.encrypted}) == c.stored);
    SnapshotEncoding back = EncodingOfName(c.stored);
    CHECK(back.compression == c.compression);
    CHECK(back.encrypted == c.encrypted);
    CHECK(BaseSnapshotName(c.stored) == base);
    CHECK(ParseSnapshotTime(c.stored) == 1700000000);
    CHECK(IsZipName(c.stored) == (c.compression == C::kZip));
  }
  // Only the end of the name counts: ".age.zip" is a zip (of an age file, made by someone else).
  CHECK(EncodingOfName("x.age.zip").compression == C::kZip);
  CHECK_FALSE(EncodingOfName("x.age.zip").encrypted);
  CHECK(EncodingOfName("x.zipx").compression == C::kNone);
  CHECK(ParseCompression("zstd") == C::kZstd);
  CHECK(CompressionName(C::kZip) == "zip");
  RequireError([] { ParseCompression("gzip"); }, ErrorKind::kInvalidInput, "gzip");
}

TEST_CASE("token backups are named after their snapshot", "[names]") {
  CHECK(TokenBackupName("on-demand-n-1.zst.age") == "on-demand-n-1.zst.age.token.age");
  CHECK(SnapshotOfTokenBackup("on-demand-n-1.zst.age.token.age") == "on-demand-n-1.zst.age");
  CHECK(SnapshotOfTokenBackup("on-demand-n-1.zst.age").empty());
  CHECK(SnapshotOfTokenBackup(".token.age").empty());
}

TEST_CASE("increment names: which are, and whose", "[names]") {
  const std::string base = "etcd-snapshot-n1-1733000000.zip";
  for (const char* suffix : {".inc", ".inc.zst", ".inc.age", ".inc.zst.age"}) {
    const std::string name = base + ".101-250-1733000300" + suffix;
    INFO(name);
    CHECK(IsIncrementName(name));
    CHECK_NOTHROW(ValidateIncrementName(name));
    CHECK(SnapshotOfIncrement(name) == base);
  }
  // Not an increment's, or unsafe as a file name or key.
  for (const std::string& name :
       {std::string(), base, base + ".token.age", std::string("x.inc.age.zst"),
        std::string("x.inc.gz"), std::string(".x.inc"), std::string("a/b.inc"),
        std::string("../b.inc"), std::string("a\\b.inc"), std::string("a\nb.inc"),
        std::string(300, 'x') + ".inc"}) {
    INFO(name);
    CHECK_FALSE(IsIncrementName(name));
    CHECK_THROWS_AS(ValidateIncrementName(name), Error);
    CHECK(SnapshotOfIncrement(name).empty());
  }
  // An increment's name, but its window does not parse: nobody's.
  for (const char* name : {"x.1-2.inc", "x.a-2-3.inc", "x.1-2-3-4.inc", "x.1--3.inc", "x-1-2-3.inc",
                           "1-2-3.inc", "x.-1-2-3.inc", "x.1-2-1234567890123456789.inc"}) {
    INFO(name);
    CHECK(IsIncrementName(name));
    CHECK(SnapshotOfIncrement(name).empty());
  }
  // Exact: names that are prefixes of each other keep their own.
  CHECK(SnapshotOfIncrement("etcd-snapshot-n1-170.1-2-3.inc") == "etcd-snapshot-n1-170");
  CHECK(SnapshotOfIncrement("etcd-snapshot-n1-17.1-2-3.inc") == "etcd-snapshot-n1-17");
  CHECK(SnapshotOfIncrement("etcd-snapshot-n1-17.zip.1-2-3.inc") == "etcd-snapshot-n1-17.zip");
}
