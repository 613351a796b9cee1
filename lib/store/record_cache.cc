// RecordCache: an LRU list with a key index, saved as JSON lines through WriteFileDurably.
#include "store/record_cache.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/durable_file.h"

namespace snapd {
namespace {

constexpr std::string_view kFormat = "k3s-snapd-record-cache";
constexpr int kVersion = 1;
// The file holds at most max_entries values of at most max_value_size each; reading it stops
// there too (a file that big is not ours).
constexpr size_t kMaxFileSize = size_t{256} << 20;

}  // namespace

std::string FormatRecordCacheFile(const std::string& scope,
                                  const std::list<RecordCacheEntry>& entries) {
  std::string text =
      nlohmann::json{{"format", kFormat}, {"version", kVersion}, {"scope", scope}}.dump() + "\n";
  for (const RecordCacheEntry& e : entries) {
    // Keys and values are S3's bytes: not always UTF-8, so replaced rather than refused.
    text += nlohmann::json::array({e.key, e.etag, e.value})
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  return text;
}

std::optional<std::list<RecordCacheEntry>> ParseRecordCacheFile(std::string_view text,
                                                                const std::string& scope) {
  size_t end = text.find('\n');
  if (end == std::string_view::npos) return std::nullopt;
  nlohmann::json header = nlohmann::json::parse(text.substr(0, end), nullptr, false);
  if (!header.is_object() || header.value("format", "") != kFormat ||
      header.value("version", 0) != kVersion || header.value("scope", "") != scope) {
    return std::nullopt;
  }
  std::list<RecordCacheEntry> entries;
  for (size_t start = end + 1; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    // Written whole and renamed into place: a line without its newline means damage.
    if (end == std::string_view::npos) return std::nullopt;
    nlohmann::json line = nlohmann::json::parse(text.substr(start, end - start), nullptr, false);
    if (!line.is_array() || line.size() != 3 || !line[0].is_string() || !line[1].is_string() ||
        !line[2].is_string()) {
      return std::nullopt;
    }
    entries.push_back(
        {line[0].get<std::string>(), line[1].get<std::string>(), line[2].get<std::string>()});
  }
  return entries;
}

RecordCache::RecordCache(RecordCacheOptions options) : options_(std::move(options)) {}

void RecordCache::LoadLocked() {
  if (loaded_) return;
  loaded_ = true;
  if (options_.dir.empty()) return;
  const std::string path = options_.dir + "/" + options_.file_name;
  std::string text;
  if (!ReadSmallFile(path, text, kMaxFileSize)) {
    if (errno != ENOENT) spdlog::warn("cannot read {}: {}", path, std::strerror(errno));
    return;
  }
  std::optional<std::list<RecordCacheEntry>> entries = ParseRecordCacheFile(text, options_.scope);
  if (!entries) {
    // Another bucket's, an older format or damaged: rebuilt from S3 at the next listing.
    spdlog::info("not using {}: written for another S3 location or format", path);
    dirty_ = true;
    return;
  }
  for (RecordCacheEntry& entry : *entries) {
    if (index_.contains(entry.key) || entry.value.size() > options_.max_value_size) continue;
    entries_.push_back(std::move(entry));
    index_[entries_.back().key] = std::prev(entries_.end());
  }
  EvictLocked();
}

void RecordCache::EvictLocked() {
  while (entries_.size() > options_.max_entries) {
    index_.erase(entries_.back().key);
    entries_.pop_back();
    dirty_ = true;
  }
}

std::optional<std::string> RecordCache::Get(const std::string& key, const std::string& etag) {
  std::lock_guard lock(mutex_);
  LoadLocked();
  auto it = index_.find(key);
  if (it == index_.end() || etag.empty() || it->second->etag != etag) return std::nullopt;
  // Order in the file does not matter for correctness: moving does not dirty the cache.
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->value;
}

void RecordCache::Put(const std::string& key, const std::string& etag, std::string value) {
  std::lock_guard lock(mutex_);
  LoadLocked();
  if (auto it = index_.find(key); it != index_.end()) {
    entries_.erase(it->second);
    index_.erase(it);
    dirty_ = true;
  }
  if (etag.empty() || value.size() > options_.max_value_size || options_.max_entries == 0) return;
  entries_.push_front({key, etag, std::move(value)});
  index_[key] = entries_.begin();
  dirty_ = true;
  EvictLocked();
}

void RecordCache::Erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  LoadLocked();
  auto it = index_.find(key);
  if (it == index_.end()) return;
  entries_.erase(it->second);
  index_.erase(it);
  dirty_ = true;
}

void RecordCache::KeepOnly(const std::string& prefix,
                           const std::set<std::string, std::less<>>& listed) {
  std::lock_guard lock(mutex_);
  LoadLocked();
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->key.starts_with(prefix) && !listed.contains(it->key)) {
      index_.erase(it->key);
      it = entries_.erase(it);
      dirty_ = true;
    } else {
      ++it;
    }
  }
}

void RecordCache::Flush() {
  std::lock_guard lock(mutex_);
  if (!dirty_ || options_.dir.empty()) return;
  try {
    MakePrivateDirectories(options_.dir);
    WriteFileDurably(options_.dir, options_.file_name,
                     FormatRecordCacheFile(options_.scope, entries_));
    dirty_ = false;
  } catch (const std::exception& e) {
    spdlog::warn("cannot save the S3 record cache: {}", e.what());
  }
}

size_t RecordCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace snapd
