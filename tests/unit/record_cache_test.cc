// RecordCache: answers only for the ETag it stored, stays within its bound, survives a restart
// through its file and ignores a file that is damaged or another bucket's.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/durable_file.h"
#include "store/record_cache.h"

namespace snapd {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "snapd-record-cache-test.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

RecordCacheOptions InDir(const std::string& dir, size_t max_entries = 100) {
  RecordCacheOptions options;
  options.dir = dir;
  options.scope = "rgw:8080/bucket";
  options.max_entries = max_entries;
  return options;
}

}  // namespace

TEST_CASE("record cache: a value answers only for its ETag", "[record-cache]") {
  RecordCache cache(InDir(""));
  cache.Put("f/.metadata/a", "\"e1\"", "{\"size\":\"1\"}");
  CHECK(cache.Get("f/.metadata/a", "\"e1\"") == "{\"size\":\"1\"}");
  // Rewritten behind our back: S3 lists another ETag, so the old value is not used.
  CHECK_FALSE(cache.Get("f/.metadata/a", "\"e2\"").has_value());
  CHECK_FALSE(cache.Get("f/.metadata/b", "\"e1\"").has_value());
  CHECK_FALSE(cache.Get("f/.metadata/a", "").has_value());
  cache.Put("f/.metadata/a", "\"e2\"", "{\"size\":\"2\"}");
  CHECK(cache.Get("f/.metadata/a", "\"e2\"") == "{\"size\":\"2\"}");
  CHECK(cache.size() == 1);
  cache.Erase("f/.metadata/a");
  CHECK(cache.size() == 0);
}

TEST_CASE("record cache: evicts the least recently used beyond its bound", "[record-cache]") {
  RecordCache cache(InDir("", 3));
  cache.Put("a", "1", "A");
  cache.Put("b", "1", "B");
  cache.Put("c", "1", "C");
  REQUIRE(cache.Get("a", "1"));  // a is now the most recently used
  cache.Put("d", "1", "D");
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.Get("b", "1").has_value());
  CHECK(cache.Get("a", "1") == "A");
  CHECK(cache.Get("c", "1") == "C");
  CHECK(cache.Get("d", "1") == "D");
  for (int i = 0; i < 100; ++i) cache.Put("k" + std::to_string(i), "1", "v");
  CHECK(cache.size() == 3);

  RecordCacheOptions small = InDir("", 10);
  small.max_value_size = 4;
  RecordCache limited(small);
  limited.Put("big", "1", "12345");
  CHECK(limited.size() == 0);
}

TEST_CASE("record cache: forgets what S3 no longer lists", "[record-cache]") {
  RecordCache cache(InDir(""));
  cache.Put("f/a", "1", "A");
  cache.Put("f/.metadata/a", "1", "RA");
  cache.Put("f/b", "1", "B");
  cache.Put("g/c", "1", "C");  // another folder: not this listing's to judge
  cache.KeepOnly("f/", {"f/a", "f/.metadata/a"});
  CHECK(cache.Get("f/a", "1"));
  CHECK(cache.Get("f/.metadata/a", "1"));
  CHECK_FALSE(cache.Get("f/b", "1"));
  CHECK(cache.Get("g/c", "1"));
}

TEST_CASE("record cache: the file brings it back after a restart", "[record-cache]") {
  TempDir dir;
  {
    RecordCache cache(InDir(dir.path));
    cache.Put("f/.metadata/a", "\"e1\"", "{\"name\":\"a\\n\"}");
    cache.Put("f/b", "\"e2\"", "{}");
    cache.Flush();
  }
  CHECK(fs::exists(dir.path + "/s3-record-cache"));
  // Written through a temporary name that is gone once renamed.
  CHECK_FALSE(fs::exists(dir.path + "/.s3-record-cache.tmp"));
  CHECK((fs::status(dir.path + "/s3-record-cache").permissions() & fs::perms::group_all) ==
        fs::perms::none);
  RecordCache again(InDir(dir.path));
  CHECK(again.Get("f/.metadata/a", "\"e1\"") == "{\"name\":\"a\\n\"}");
  CHECK(again.Get("f/b", "\"e2\"") == "{}");
  CHECK_FALSE(again.Get("f/b", "\"e3\""));

  // A smaller bound on restart keeps the most recently used.
  RecordCache bounded(InDir(dir.path, 1));
  CHECK(bounded.Get("f/b", "\"e2\"") == "{}");
  CHECK(bounded.size() == 1);
}

TEST_CASE("record cache: a damaged or foreign file is not used", "[record-cache]") {
  TempDir dir;
  {
    RecordCache cache(InDir(dir.path));
    cache.Put("f/a", "1", "A");
    cache.Put("f/b", "1", "B");
    cache.Flush();
  }
  std::string text;
  REQUIRE(ReadSmallFile(dir.path + "/s3-record-cache", text));
  REQUIRE(ParseRecordCacheFile(text, "rgw:8080/bucket").has_value());
  CHECK(ParseRecordCacheFile(text, "other:8080/bucket") == std::nullopt);
  // Cut short (as a torn write would leave it without the rename): none of it is trusted.
  CHECK(ParseRecordCacheFile(text.substr(0, text.size() - 3), "rgw:8080/bucket") == std::nullopt);
  CHECK(ParseRecordCacheFile("", "rgw:8080/bucket") == std::nullopt);
  CHECK(ParseRecordCacheFile(text + "[\"k\",1,\"v\"]\n", "rgw:8080/bucket") == std::nullopt);

  WriteFileDurably(dir.path, "s3-record-cache", text.substr(0, text.size() - 3));
  RecordCache damaged(InDir(dir.path));
  CHECK_FALSE(damaged.Get("f/a", "1"));
  RecordCacheOptions foreign = InDir(dir.path);
  foreign.scope = "elsewhere/bucket";
  WriteFileDurably(dir.path, "s3-record-cache", text);
  RecordCache other(foreign);
  CHECK_FALSE(other.Get("f/a", "1"));
  // Rewritten for its own scope at the next flush.
  other.Put("f/c", "1", "C");
  other.Flush();
  RecordCache reread(foreign);
  CHECK(reread.Get("f/c", "1") == "C");
}

}  // namespace snapd
