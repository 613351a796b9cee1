// What S3Store read about each object (a record's JSON, a k3s object's metadata), kept by key and
// ETag so that an immutable record is fetched once, not at every listing. Held in memory (least
// recently used first out, at most `max_entries`) and in one crash-safe file in the state dir so
// a restart starts warm. Never trusted over S3: an entry answers only for the ETag S3 lists now.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

namespace snapd {

struct RecordCacheEntry {
  std::string key;
  std::string etag;
  std::string value;
};

struct RecordCacheOptions {
  std::string dir;  // where the file lives; "" keeps the cache in memory only
  std::string file_name = "s3-record-cache";
  // What the entries are about (endpoint and bucket): a file written for another is ignored.
  std::string scope;
  size_t max_entries = 20000;
  size_t max_value_size = 64 << 10;  // larger values are not kept
};

class RecordCache {
 public:
  explicit RecordCache(RecordCacheOptions options);

  // The value stored for `key` at `etag`; nullopt when absent or stored for another ETag.
  std::optional<std::string> Get(const std::string& key, const std::string& etag);
  // Stores (or replaces) the value of `key`, evicting the least recently used beyond the bound.
  void Put(const std::string& key, const std::string& etag, std::string value);
  void Erase(const std::string& key);
  // Drops every entry whose key starts with `prefix` but is not in `listed`: S3 no longer has it.
  void KeepOnly(const std::string& prefix, const std::set<std::string, std::less<>>& listed);
  // Writes the file (temp + fsync + rename) when something changed since it was last written
  // or read. Failures are logged, not thrown: the cache is only a shortcut.
  void Flush();
  size_t size() const;

 private:
  using Entry = RecordCacheEntry;
  void LoadLocked();
  void EvictLocked();

  RecordCacheOptions options_;
  mutable std::mutex mutex_;
  bool loaded_ = false;
  bool dirty_ = false;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

// The cache file: a header line naming the format, version and scope, then one JSON array
// [key, etag, value] a line, most recently used first. Pure, for tests.
std::string FormatRecordCacheFile(const std::string& scope,
                                  const std::list<RecordCacheEntry>& entries);
// nullopt when the text is not a cache file of `scope` or any line is damaged: then none of it
// is used.
std::optional<std::list<RecordCacheEntry>> ParseRecordCacheFile(std::string_view text,
                                                                const std::string& scope);

}  // namespace snapd
