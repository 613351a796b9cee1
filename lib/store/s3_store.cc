// S3Store: k3s's S3 layout over S3Client and S3UploadWriter.
#include "store/s3_store.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/string_sink.h"
#include "s3/s3_parallel.h"
#include "s3/s3_upload.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

constexpr std::string_view kMetadataDir = ".metadata";
constexpr size_t kMaxRecordSize = 1 << 20;
// How long RemoveIncomplete may use the keys List saw instead of listing again.
constexpr std::chrono::seconds kRecentListingReuse{60};
// Clients kept open between listings (a listing, a prune and the upkeep may overlap).
constexpr size_t kIdleClients = 2;
// DeleteObjects requests at once.
constexpr int kDeleteConcurrency = 4;
// Open reads the object in ranges of this size: memory stays bounded and a cut transfer costs
// at most one range.
constexpr uint64_t kReadRange = uint64_t{8} << 20;

// x-amz-meta-* names (without the prefix), as k3s writes them.
constexpr const char* kMetaNodeName = "k3s-node-name";
constexpr const char* kMetaTokenHash = "k3s-token-hash";
constexpr const char* kMetaClusterId = "k3s-cluster-id";
constexpr const char* kMetaSha256 = "k3s-snapd-sha256";
constexpr const char* kMetaSize = "k3s-snapd-size";

std::string ContentTypeFor(std::string_view name) {
  return name.ends_with(".zip") ? "application/zip" : "application/octet-stream";
}

// A DeleteObjects that the server does not have (some S3 look-alikes): delete one by one.
bool IsNotImplemented(const Error& e) {
  std::string_view text = e.what();
  return text.find("NotImplemented") != std::string_view::npos ||
         text.find("(HTTP 501") != std::string_view::npos ||
         text.find("MethodNotAllowed") != std::string_view::npos;
}

// What List takes from a k3s-made object's metadata, as the record cache keeps it.
std::string HeadCacheValue(const S3ObjectHead& head) {
  auto get = [&head](const char* name) {
    auto it = head.metadata.find(name);
    return it == head.metadata.end() ? std::string() : it->second;
  };
  return nlohmann::json{{"node", get(kMetaNodeName)},
                        {"tokenHash", get(kMetaTokenHash)},
                        {"sha256", get(kMetaSha256)}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void ApplyHeadCacheValue(std::string_view value, SnapshotRecord& r) {
  nlohmann::json json = nlohmann::json::parse(value, nullptr, false);
  if (!json.is_object()) return;
  r.node = json.value("node", "");
  r.token_hash = json.value("tokenHash", "");
  r.sha256 = json.value("sha256", "");
}

bool IsValidName(std::string_view name) {
  try {
    ValidateSnapshotName(name);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Names made by k3s or by us carry their time; anything else under the folder is not ours to
// clean up.
bool LooksLikeSnapshotName(std::string_view name) {
  return IsValidName(name) && ParseSnapshotTime(name).has_value();
}

class S3SnapshotWriter final : public SnapshotWriter {
 public:
  S3SnapshotWriter(const S3Store& store, const S3StoreOptions& options, const std::string& name,
                   std::unique_ptr<S3Client> client)
      : store_(store),
        name_(name),
        client_(std::move(client)),
        journal_(options.journal, {name, options.client.bucket, store.KeyOf(name), "", {}}) {
    // No request here: S3 must not delay a save's start (nor its local copy). The upload looks
    // for an existing object before it creates anything, and again before it completes.
    S3UploadOptions upload;
    upload.key = store.KeyOf(name);
    upload.put.content_type = ContentTypeFor(name);
    upload.put.metadata = BaseMetadata(options);
    upload.put.if_none_match = true;
    upload.concurrency = options.upload_concurrency;
    upload.initial_part_size = options.initial_part_size;
    upload.spill_dir = options.spill_dir;
    upload.on_creating = [this] { journal_.Creating(); };
    upload.on_created = [this](const std::string& id) { journal_.Created(id); };
    upload.on_ended = [this](const std::string&) { journal_.Ended(); };
    upload.on_abort_failed = [this] { journal_.AbortFailed(); };
    upload_ = std::make_unique<S3UploadWriter>(*client_, std::move(upload));
    metadata_ = BaseMetadata(options);
  }

  ~S3SnapshotWriter() override { Abort(); }

  void Write(std::string_view chunk) override { upload_->Write(chunk); }

  void SetTokenBackup(std::string sealed) override { token_backup_ = std::move(sealed); }

  void WatchCancel(const std::atomic<bool>* cancel) override { upload_->WatchCancel(cancel); }

  SnapshotRecord Commit(const SnapshotRecord& record) override {
    if (committed_) throw Error::InvalidInput("snapshot " + name_ + " is already committed");
    SnapshotRecord stored = record;
    stored.name = name_;
    stored.storage = "s3";
    stored.location = store_.LocationOf(name_);
    stored.status = "ready";
    stored.token_backup = !token_backup_.empty();
    SetEncodingFromName(stored);
    std::map<std::string, std::string> metadata = metadata_;
    if (!record.token_hash.empty()) metadata[kMetaTokenHash] = record.token_hash;
    if (!record.sha256.empty()) metadata[kMetaSha256] = record.sha256;
    metadata[kMetaSize] = std::to_string(upload_->bytes_written());
    try {
      // A crash from here until the record is stored leaves an object the next start can
      // check against this record and finish.
      stored.size = upload_->bytes_written();
      journal_.Completing(stored);
      if (stored.token_backup) {
        S3PutOptions put;
        put.content_type = "application/octet-stream";
        put.metadata = metadata;
        client_->PutObject(store_.MetadataKeyOf(TokenBackupName(name_)), token_backup_, put);
        token_written_ = true;
      }
      S3ObjectHead head = upload_->Complete(metadata);
      stored.size = head.size;
      S3PutOptions put;
      put.content_type = "application/json";
      put.metadata = metadata;
      const std::string body = RecordToMetadataJson(stored);
      const std::string etag = client_->PutObject(store_.MetadataKeyOf(name_), body, put);
      // The next listing needs no GET for it.
      store_.cache().Put(store_.MetadataKeyOf(name_), etag, body);
    } catch (...) {
      journal_.CommitFailed(RemoveWritten());
      throw;
    }
    journal_.Committed();
    committed_ = true;
    return stored;
  }

  void Abort() noexcept override {
    if (committed_) return;
    upload_->Abort();
    RemoveWritten();
  }

 private:
  static std::map<std::string, std::string> BaseMetadata(const S3StoreOptions& options) {
    std::map<std::string, std::string> metadata;
    if (!options.node_name.empty()) metadata[kMetaNodeName] = options.node_name;
    if (options.token_hash) {
      if (std::string hash = options.token_hash(); !hash.empty()) metadata[kMetaTokenHash] = hash;
    }
    if (!options.cluster_id.empty()) metadata[kMetaClusterId] = options.cluster_id;
    return metadata;
  }

  // Deletes what this writer made (never an object it found: Create refused those, and a
  // conditional write that lost a race created nothing). False when something could not be.
  bool RemoveWritten() noexcept {
    bool removed_all = true;
    if (token_written_) {
      token_written_ = false;
      try {
        client_->DeleteObject(store_.MetadataKeyOf(TokenBackupName(name_)));
      } catch (const std::exception& e) {
        removed_all = false;
        spdlog::warn("could not remove the token backup of {} after a failed save: {}", name_,
                     e.what());
      }
    }
    if (!upload_->object_created() || removed_) return removed_all;
    removed_ = true;
    for (const std::string& key : {store_.KeyOf(name_), store_.MetadataKeyOf(name_)}) {
      try {
        client_->DeleteObject(key);
      } catch (const std::exception& e) {
        removed_all = false;
        spdlog::warn("could not remove {} after a failed save: {}", client_->Location(key),
                     e.what());
      }
    }
    return removed_all;
  }

  const S3Store& store_;
  std::string name_;
  std::unique_ptr<S3Client> client_;
  JournaledUploadKeeper journal_;  // before upload_: its callbacks use it until it is gone
  std::unique_ptr<S3UploadWriter> upload_;
  std::map<std::string, std::string> metadata_;
  std::string token_backup_;
  bool token_written_ = false;
  bool committed_ = false;
  bool removed_ = false;
};

// Reads an object in ranges, each pinned to the ETag seen when it was opened.
class S3ObjectSource final : public ByteSource {
 public:
  S3ObjectSource(std::unique_ptr<S3Client> client, std::string key, const S3ObjectHead& head)
      : client_(std::move(client)), key_(std::move(key)), size_(head.size), etag_(head.etag) {}

  size_t Read(char* buffer, size_t size) override {
    if (position_ == buffer_.size()) {
      if (offset_ >= size_) return 0;
      uint64_t length = std::min(kReadRange, size_ - offset_);
      buffer_.clear();
      position_ = 0;
      StringSink sink(buffer_);
      client_->GetObject(key_, sink, offset_, length, etag_);
      if (buffer_.size() != length) {
        throw Error::Corrupt("S3 GetObject " + client_->Location(key_) + ": asked for " +
                             std::to_string(length) + " bytes at " + std::to_string(offset_) +
                             ", got " + std::to_string(buffer_.size()));
      }
      offset_ += length;
    }
    size_t n = std::min(size, buffer_.size() - position_);
    std::copy_n(buffer_.data() + position_, n, buffer);
    position_ += n;
    return n;
  }

 private:
  std::unique_ptr<S3Client> client_;
  std::string key_;
  uint64_t size_;
  std::string etag_;
  uint64_t offset_ = 0;
  std::string buffer_;
  size_t position_ = 0;
};

}  // namespace

std::string CleanS3Folder(std::string_view folder) {
  std::vector<std::string_view> segments;
  while (!folder.empty()) {
    size_t slash = folder.find('/');
    std::string_view segment = folder.substr(0, slash);
    folder = slash == std::string_view::npos ? std::string_view() : folder.substr(slash + 1);
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
      continue;
    }
    segments.push_back(segment);
  }
  std::string clean;
  for (std::string_view segment : segments) {
    if (!clean.empty()) clean += '/';
    clean += segment;
  }
  return clean;
}

std::string S3SnapshotKey(std::string_view folder, std::string_view name) {
  std::string clean = CleanS3Folder(folder);
  return clean.empty() ? std::string(name) : clean + "/" + std::string(name);
}

std::string S3MetadataKey(std::string_view folder, std::string_view name) {
  return S3SnapshotKey(folder, std::string(kMetadataDir) + "/" + std::string(name));
}

std::map<std::string, std::string> S3RecordMetadata(const SnapshotRecord& record,
                                                    std::string_view cluster_id) {
  std::map<std::string, std::string> metadata;
  if (!record.node.empty()) metadata[kMetaNodeName] = record.node;
  if (!record.token_hash.empty()) metadata[kMetaTokenHash] = record.token_hash;
  if (!cluster_id.empty()) metadata[kMetaClusterId] = std::string(cluster_id);
  if (!record.sha256.empty()) metadata[kMetaSha256] = record.sha256;
  metadata[kMetaSize] = std::to_string(record.size);
  return metadata;
}

S3Store::S3Store(S3StoreOptions options)
    : options_(std::move(options)),
      folder_(CleanS3Folder(options_.folder)),
      counters_(std::make_shared<S3Counters>()) {
  RecordCacheOptions cache;
  cache.dir = options_.cache_dir;
  cache.scope = options_.client.endpoint + "/" + options_.client.bucket;
  cache.max_entries = options_.cache_entries;
  cache_ = std::make_unique<RecordCache>(std::move(cache));
  // Validates the endpoint, bucket and lookup type now rather than at the first save.
  NewClient();
}

S3Store::~S3Store() = default;

std::unique_ptr<S3Client> S3Store::NewClient() const {
  return std::make_unique<S3Client>(options_.client, counters_);
}

S3Store::PooledClient S3Store::Pooled() const {
  {
    std::lock_guard lock(idle_mu_);
    if (!idle_clients_.empty()) {
      PooledClient client(idle_clients_.back().release(), ClientReturn{this});
      idle_clients_.pop_back();
      return client;
    }
  }
  return PooledClient(NewClient().release(), ClientReturn{this});
}

void S3Store::ClientReturn::operator()(S3Client* client) const {
  std::unique_ptr<S3Client> owned(client);
  std::lock_guard lock(store->idle_mu_);
  if (store->idle_clients_.size() < kIdleClients) store->idle_clients_.push_back(std::move(owned));
}

std::string S3Store::ListPrefix() const {
  return folder_.empty() ? "" : folder_ + "/";
}

std::string S3Store::LocationOf(std::string_view name) const {
  return "s3://" + options_.client.bucket + "/" + KeyOf(name);
}

void S3Store::Check(std::chrono::milliseconds time_limit) {
  S3ClientOptions options = options_.client;
  options.operation_timeout = std::min(options.operation_timeout, time_limit);
  std::string unreachable;
  try {
    S3Client(options, counters_).HeadBucket();
  } catch (const Error& e) {
    // Refused, reset, timed out: S3 is not there. Answers such as AccessDenied come at once and
    // need no short cut.
    if (e.kind() == ErrorKind::kTransient) unreachable = e.what();
    std::lock_guard lock(unreachable_mu_);
    unreachable_ = unreachable;
    throw;
  }
  std::lock_guard lock(unreachable_mu_);
  unreachable_.clear();
}

std::unique_ptr<SnapshotWriter> S3Store::Create(const std::string& name) {
  ValidateSnapshotName(name);
  return std::make_unique<S3SnapshotWriter>(*this, options_, name, NewClient());
}

std::vector<SnapshotRecord> S3Store::List() {
  {
    std::lock_guard lock(unreachable_mu_);
    if (!unreachable_.empty()) throw Error::Transient("S3 is unreachable: " + unreachable_);
  }
  PooledClient client = Pooled();
  const std::string prefix = ListPrefix();
  // The delimiter keeps sub-folders (and .metadata/) out: their keys are not `folder/name`.
  std::vector<S3Object> objects = client->ListAllObjects(prefix, "/");
  const std::string metadata_prefix = MetadataKeyOf("");
  std::vector<S3Object> record_objects = client->ListAllObjects(metadata_prefix, "/");
  // Increments share `.metadata/` with the records; they are no snapshot's record.
  std::erase_if(record_objects, [&](const S3Object& object) {
    return IsIncrementName(std::string_view(object.key).substr(metadata_prefix.size()));
  });
  std::map<std::string, S3Object, std::less<>> records;  // by snapshot name
  for (const S3Object& object : record_objects) {
    if (object.size > 0) records.emplace(object.key.substr(metadata_prefix.size()), object);
  }
  {
    RecentListing recent{std::chrono::steady_clock::now(), {}, std::move(record_objects)};
    for (const S3Object& object : objects)
      recent.snapshots.insert(object.key.substr(prefix.size()));
    std::lock_guard lock(recent_mu_);
    recent_ = std::move(recent);
  }

  // Each snapshot as listed, with what is known of it from the cache; the rest is fetched below.
  struct Listed {
    SnapshotRecord record;
    const S3Object* object = nullptr;
    const S3Object* record_object = nullptr;  // its .metadata/ record, when listed
    std::optional<std::string> body;          // the record's JSON
    std::optional<std::string> head;          // HeadCacheValue of a record-less object
    bool gone = false;                        // deleted since the listing
    bool merged = false;                      // `record` has its record's fields
    bool remembered = false;                  // `record` is the last listing's, same ETags
  };
  std::vector<Listed> listed;
  std::set<std::string, std::less<>> cached_keys;  // what the cache may keep: S3 lists it
  std::shared_ptr<const std::unordered_map<std::string, ListedSnapshot>> last;
  {
    std::lock_guard lock(recent_mu_);
    last = last_listed_;
  }
  static const std::unordered_map<std::string, ListedSnapshot> kNone;
  const auto& remembered = last ? *last : kNone;
  std::vector<size_t> to_get;
  for (const S3Object& object : objects) {
    std::string name = object.key.substr(prefix.size());
    if (object.size == 0 || !IsValidName(name)) continue;
    Listed entry;
    SnapshotRecord& r = entry.record;
    r.name = name;
    r.storage = "s3";
    r.location = client->Location(object.key);
    r.size = object.size;
    r.created_at = ParseSnapshotTime(name).value_or(object.last_modified);
    SetEncodingFromName(r);
    entry.object = &object;
    auto it = records.find(name);
    if (it != records.end()) {
      entry.record_object = &it->second;
      cached_keys.insert(it->second.key);
    }
    if (auto seen = remembered.find(name);
        seen != remembered.end() && seen->second.object_etag == object.etag &&
        seen->second.record_etag == (it != records.end() ? it->second.etag : "")) {
      // Nothing of it changed since the last listing: not even its JSON is parsed again.
      entry.record = seen->second.record;
      entry.remembered = true;
      if (it == records.end()) cached_keys.insert(object.key);
    } else if (it != records.end()) {
      entry.body = cache_->Get(it->second.key, it->second.etag);
      if (!entry.body) to_get.push_back(listed.size());
    }
    listed.push_back(std::move(entry));
  }

  // Records are written once: a GET pinned to the listed ETag, so what is cached is that version.
  ForEachInParallel(*client, to_get.size(), options_.fetch_concurrency, [&](S3Client& c, size_t i) {
    Listed& entry = listed[to_get[i]];
    const S3Object& record = *entry.record_object;
    try {
      entry.body = c.GetSmallObject(record.key, kMaxRecordSize, record.etag);
      cache_->Put(record.key, record.etag, *entry.body);
    } catch (const Error& e) {
      spdlog::warn("cannot read the record of {}: {}", entry.record.location, e.what());
    }
  });

  std::vector<size_t> to_head;
  for (size_t i = 0; i < listed.size(); ++i) {
    Listed& entry = listed[i];
    if (entry.remembered) continue;
    SnapshotRecord& r = entry.record;
    const uint64_t object_size = entry.object->size;
    const bool merged = entry.body && MergeMetadataJson(*entry.body, r);
    entry.merged = merged;
    if (merged && r.size != object_size) {
      r.status = "failed";
      r.error = "object is " + std::to_string(object_size) + " bytes but was saved with " +
                std::to_string(r.size) + " (truncated or replaced)";
      r.size = object_size;
    }
    if (merged) continue;
    // Made by k3s (or its record is unreadable): its object metadata names the node.
    cached_keys.insert(entry.object->key);
    entry.head = cache_->Get(entry.object->key, entry.object->etag);
    if (!entry.head) to_head.push_back(i);
  }
  ForEachInParallel(
      *client, to_head.size(), options_.fetch_concurrency, [&](S3Client& c, size_t i) {
        Listed& entry = listed[to_head[i]];
        try {
          S3ObjectHead head = c.HeadObject(entry.object->key);
          entry.head = HeadCacheValue(head);
          // Kept only when it is the version listed (not replaced meanwhile).
          if (head.etag == entry.object->etag) {
            cache_->Put(entry.object->key, entry.object->etag, *entry.head);
          }
        } catch (const Error& e) {
          if (e.kind() == ErrorKind::kNotFound) {
            entry.gone = true;
          } else {
            spdlog::warn("cannot read the metadata of {}: {}", entry.record.location, e.what());
          }
        }
      });

  std::vector<SnapshotRecord> result;
  result.reserve(listed.size());
  auto now_listed = std::make_shared<std::unordered_map<std::string, ListedSnapshot>>();
  for (Listed& entry : listed) {
    if (entry.gone) continue;
    if (entry.head) ApplyHeadCacheValue(*entry.head, entry.record);
    // Remembered only when read whole: a record that could not be read is tried again.
    if (entry.remembered || entry.merged || (entry.record_object == nullptr && entry.head)) {
      now_listed->emplace(
          entry.record.name,
          ListedSnapshot{entry.object->etag, entry.record_object ? entry.record_object->etag : "",
                         entry.record});
    }
    result.push_back(std::move(entry.record));
  }
  {
    std::lock_guard lock(recent_mu_);
    last_listed_ = std::move(now_listed);
  }
  // Gone from S3 or replaced by a version read above: forgotten.
  cache_->KeepOnly(prefix, cached_keys);
  cache_->Flush();
  return result;
}

std::unique_ptr<ByteSource> S3Store::Open(const std::string& name) {
  ValidateSnapshotName(name);
  std::unique_ptr<S3Client> client = NewClient();
  S3ObjectHead head;
  try {
    head = client->HeadObject(KeyOf(name));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) {
      throw Error::NotFound("snapshot " + name + " not found at " + LocationOf(name));
    }
    throw;
  }
  return std::make_unique<S3ObjectSource>(std::move(client), KeyOf(name), head);
}

void S3Store::Remove(const std::string& name) {
  ValidateSnapshotName(name);
  std::unique_ptr<S3Client> client = NewClient();
  try {
    client->HeadObject(KeyOf(name));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) {
      throw Error::NotFound("snapshot " + name + " not found at " + LocationOf(name));
    }
    throw;
  }
  client->DeleteObject(KeyOf(name));
  client->DeleteObject(MetadataKeyOf(name));
  // S3 answers a delete of a missing key with success: no need to know whether it had one.
  client->DeleteObject(MetadataKeyOf(TokenBackupName(name)));
  cache_->Erase(KeyOf(name));
  cache_->Erase(MetadataKeyOf(name));
  // Listed under `<name>.` only: the increments of `x-17` start with `x-17.`, those of `x-170`
  // do not.
  for (const std::string& increment : ListIncrementNames(*client, name + ".")) {
    if (SnapshotOfIncrement(increment) == name) client->DeleteObject(MetadataKeyOf(increment));
  }
}

std::vector<RemoveFailure> S3Store::RemoveMany(const std::vector<std::string>& names) {
  std::vector<RemoveFailure> failures;
  std::vector<std::string> valid;
  for (const std::string& name : names) {
    if (IsValidName(name)) {
      valid.push_back(name);
    } else {
      failures.push_back({name, "not a snapshot name"});
    }
  }
  if (valid.empty()) return failures;
  PooledClient client = Pooled();
  // Their increments, from one listing for the whole batch.
  std::map<std::string, std::vector<std::string>, std::less<>> increments;  // by snapshot
  try {
    for (std::string& increment : ListIncrementNames(*client)) {
      const std::string_view owner = SnapshotOfIncrement(increment);
      increments[std::string(owner)].push_back(std::move(increment));
    }
  } catch (const Error& e) {
    // Removing the snapshots now would leave their increments where nothing finds them.
    for (const std::string& name : valid) {
      failures.push_back({name, std::string("cannot list its increments: ") + e.what()});
    }
    return failures;
  }
  std::vector<std::vector<std::string>> groups;
  groups.reserve(valid.size());
  for (const std::string& name : valid) {
    // The snapshot first: a record left without it is swept by RemoveIncomplete.
    std::vector<std::string> keys = {KeyOf(name), MetadataKeyOf(name),
                                     MetadataKeyOf(TokenBackupName(name))};
    if (auto it = increments.find(name); it != increments.end()) {
      for (const std::string& increment : it->second) keys.push_back(MetadataKeyOf(increment));
    }
    groups.push_back(std::move(keys));
  }
  for (const auto& [group, why] : DeleteKeyGroups(*client, groups)) {
    failures.push_back({valid[group], why});
  }
  for (const std::vector<std::string>& keys : groups) {
    for (const std::string& key : keys) cache_->Erase(key);
  }
  cache_->Flush();
  return failures;
}

std::vector<std::pair<size_t, std::string>> S3Store::DeleteKeyGroups(
    S3Client& client, const std::vector<std::vector<std::string>>& groups) {
  // Requests of at most S3's 1000 keys, a group in one request unless it alone is larger.
  constexpr size_t kKeysPerRequest = 1000;
  struct Chunk {
    std::vector<std::string> keys;
    std::vector<size_t> group_of;  // by key
  };
  std::vector<Chunk> chunks;
  for (size_t g = 0; g < groups.size(); ++g) {
    // A group starts a new request unless it fits whole in the current one.
    if (chunks.empty() || (!chunks.back().keys.empty() &&
                           chunks.back().keys.size() + groups[g].size() > kKeysPerRequest)) {
      chunks.emplace_back();
    }
    for (const std::string& key : groups[g]) {
      if (chunks.back().keys.size() == kKeysPerRequest) chunks.emplace_back();
      chunks.back().keys.push_back(key);
      chunks.back().group_of.push_back(g);
    }
  }
  std::vector<std::pair<size_t, std::string>> failed;
  std::set<size_t> failed_groups;
  std::atomic<bool> batch{true};
  std::mutex failed_mu;
  // RGW takes ~0.7 ms a key of a DeleteObjects (10,000 snapshots: 20 s one request at a time,
  // 15 s four at a time): a few at once, as `aws s3 rm` does.
  ForEachInParallel(client, chunks.size(), kDeleteConcurrency, [&](S3Client& c, size_t n) {
    const Chunk& chunk = chunks[n];
    std::map<std::string, std::string, std::less<>> failed_keys;  // key -> why
    bool single = !batch.load();
    if (!single) {
      try {
        for (const S3DeleteFailure& f : c.DeleteObjects(chunk.keys)) {
          failed_keys.emplace(f.key, c.Location(f.key) + ": " + f.code +
                                         (f.message.empty() ? "" : ": " + f.message));
        }
      } catch (const Error& e) {
        if (IsNotImplemented(e)) {
          if (batch.exchange(false)) {
            spdlog::info("S3 at {} does not implement DeleteObjects; deleting one object at a time",
                         options_.client.endpoint);
          }
          single = true;
        } else {
          for (const std::string& key : chunk.keys) failed_keys.emplace(key, e.what());
        }
      }
    }
    if (single) {
      for (const std::string& key : chunk.keys) {
        try {
          c.DeleteObject(key);
        } catch (const Error& e) {
          failed_keys.emplace(key, e.what());
        }
      }
    }
    if (failed_keys.empty()) return;
    std::lock_guard lock(failed_mu);
    for (size_t i = 0; i < chunk.keys.size(); ++i) {
      auto it = failed_keys.find(chunk.keys[i]);
      if (it != failed_keys.end() && failed_groups.insert(chunk.group_of[i]).second) {
        failed.emplace_back(chunk.group_of[i], it->second);
      }
    }
  });
  std::sort(failed.begin(), failed.end());
  return failed;
}

std::string S3Store::ReadTokenBackup(const std::string& name) {
  ValidateSnapshotName(name);
  return NewClient()->GetSmallObject(MetadataKeyOf(TokenBackupName(name)), kMaxRecordSize);
}

int S3Store::RemoveIncomplete() {
  PooledClient client = Pooled();
  const Clock& clock = options_.clock != nullptr ? *options_.clock : system_clock_;
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
  const int64_t grace = options_.incomplete_grace.count();
  const std::string prefix = ListPrefix();
  const std::string metadata_prefix = MetadataKeyOf("");
  int removed = 0;

  const std::vector<S3Upload> uploads = client->ListMultipartUploads(prefix);
  // Read after the listing: an upload old enough to be swept was journaled long before.
  std::set<std::string, std::less<>> journaled_ids;
  std::set<std::string, std::less<>> journaled_names;
  if (options_.journal != nullptr) {
    for (const JournaledUpload& entry : options_.journal->All()) {
      journaled_ids.insert(entry.upload_id);
      journaled_names.insert(entry.snapshot);
    }
  }
  for (const S3Upload& upload : uploads) {
    if (journaled_ids.contains(upload.upload_id)) continue;
    std::string_view rest = std::string_view(upload.key).substr(prefix.size());
    if (rest.starts_with(metadata_prefix.substr(prefix.size()))) {
      rest.remove_prefix(metadata_prefix.size() - prefix.size());
    }
    if (!LooksLikeSnapshotName(rest) || now - upload.initiated < grace) continue;
    try {
      client->AbortMultipartUpload(upload.key, upload.upload_id);
      ++removed;
    } catch (const Error& e) {
      spdlog::warn("cannot abort the incomplete upload of {}: {}", client->Location(upload.key),
                   e.what());
    }
  }

  // Records whose snapshot is gone (a save or delete that died between its two objects). A
  // listing List made moments ago does: a record is swept only after incomplete_grace, far
  // longer, and one whose snapshot went since is swept next time.
  std::set<std::string, std::less<>> snapshots;
  std::vector<S3Object> records;
  {
    std::lock_guard lock(recent_mu_);
    if (recent_ && std::chrono::steady_clock::now() - recent_->at < kRecentListingReuse) {
      snapshots = recent_->snapshots;
      records = recent_->records;
    }
  }
  if (records.empty() && snapshots.empty()) {
    for (const S3Object& object : client->ListAllObjects(prefix, "/")) {
      snapshots.insert(object.key.substr(prefix.size()));
    }
    records = client->ListAllObjects(metadata_prefix, "/");
  }
  for (const S3Object& record : records) {
    std::string name = record.key.substr(metadata_prefix.size());
    // Increments are not records: they go with their snapshot (Remove), not here.
    if (IsIncrementName(name)) continue;
    // A token backup belongs to the snapshot it is named after.
    if (std::string_view owner = SnapshotOfTokenBackup(name); !owner.empty()) name = owner;
    if (!LooksLikeSnapshotName(name) || snapshots.contains(name)) continue;
    if (journaled_names.contains(name)) continue;
    if (now - record.last_modified < grace) continue;
    client->DeleteObject(record.key);
    ++removed;
  }
  return removed;
}

}  // namespace snapd
