// Snapshots as S3 objects laid out as k3s lays them out: `<folder>/<name>` with the record in
// `<folder>/.metadata/<name>` (application/json) and k3s's x-amz-meta-k3s-* metadata on both,
// written by a streaming multipart upload that is verified before the snapshot is listed.
// x-amz-meta-k3s-snapd-sha256/-size are known only at the end of the stream: they are on the
// record object always, and on the snapshot object when it went up as one PutObject (a
// multipart upload's metadata is fixed when it starts). Increments are kept beside the records,
// where k3s never looks (it skips keys whose parent is `.metadata`).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "s3/s3_client.h"
#include "store/record_cache.h"
#include "store/snapshot_store.h"
#include "store/upload_journal.h"

namespace snapd {

struct S3StoreOptions {
  S3ClientOptions client;
  std::string folder;     // etcd-s3-folder; "" = the bucket's top level
  std::string node_name;  // x-amz-meta-k3s-node-name of new objects
  // The current k3s token hash for x-amz-meta-k3s-token-hash (a multipart upload's metadata
  // is fixed before its record exists). Unset or "" leaves the header out.
  std::function<std::string()> token_hash;
  std::string cluster_id;  // x-amz-meta-k3s-cluster-id when known
  int upload_concurrency = 4;
  uint64_t initial_part_size = 0;  // 0: chosen by S3UploadWriter
  // Incomplete uploads this daemon did not journal, started longer ago than this, are
  // leftovers of dead saves (etcd-s3-incomplete-upload-grace).
  std::chrono::seconds incomplete_grace{std::chrono::minutes(10)};
  const Clock* clock = nullptr;  // nullptr: the system clock
  // Where each multipart upload is journaled before its first part (null: not journaled).
  // Must outlive the store.
  UploadJournal* journal = nullptr;
  std::string spill_dir;  // where parts wait for their upload; "" = the upload's default
  // Where the record cache is kept across restarts (the state dir); "" = in memory only.
  std::string cache_dir;
  size_t cache_entries = 20000;  // records and object metadata kept, least recently used out
  // Uncached records (GET) and record-less objects' metadata (HEAD) fetched at once by List.
  int fetch_concurrency = 16;
};

// The folder as a key prefix: no leading, trailing or repeated '/', "." segments dropped and
// ".." resolved (Go's path.Clean, as k3s's path.Join does). "" stays "".
std::string CleanS3Folder(std::string_view folder);
// `folder/name`, or `name` without a folder.
std::string S3SnapshotKey(std::string_view folder, std::string_view name);
// `folder/.metadata/name`, or `.metadata/name` without a folder.
std::string S3MetadataKey(std::string_view folder, std::string_view name);
// The x-amz-meta-* (names without the prefix) of the record object of `record`, as k3s sets
// them plus the stored size and SHA-256.
std::map<std::string, std::string> S3RecordMetadata(const SnapshotRecord& record,
                                                    std::string_view cluster_id);

class S3Store final : public SnapshotStore {
 public:
  // Throws Error::InvalidInput for a malformed endpoint, bucket or lookup type.
  explicit S3Store(S3StoreOptions options);
  ~S3Store() override;

  // Checks at start and on reload that the bucket exists and the credentials may use it;
  // throws one line naming S3's reason (NoSuchBucket, AccessDenied, SignatureDoesNotMatch...).
  // Retries transient failures for at most `time_limit` (and at most etcd-s3-timeout).
  // While the last check could not reach S3, List fails at once with its reason instead of
  // retrying for etcd-s3-timeout: `snapctl ls` must not hang on a dead S3.
  void Check(std::chrono::milliseconds time_limit = std::chrono::milliseconds::max());

  std::string_view Kind() const override { return "s3"; }
  std::unique_ptr<SnapshotWriter> Create(const std::string& name) override;
  std::vector<SnapshotRecord> List() override;
  std::unique_ptr<ByteSource> Open(const std::string& name) override;
  void Remove(const std::string& name) override;
  // DeleteObjects, each snapshot's keys (object, record, token backup, increments) in one
  // request where they fit, up to 1000 keys a request; one by one where the server does not
  // implement it. The increments are found by one listing of `.metadata/` for all the names.
  std::vector<RemoveFailure> RemoveMany(const std::vector<std::string>& names) override;
  // Increments are objects directly under `<folder>/.metadata/`, each one PutObject
  // (s3_increments.cc).
  void PutIncrement(const std::string& name, std::string_view bytes) override;
  std::vector<std::string> ListIncrements() override;  // sorted
  std::string ReadIncrement(const std::string& name) override;
  std::vector<RemoveFailure> RemoveIncrements(const std::vector<std::string>& names) override;
  std::string ReadTokenBackup(const std::string& name) override;
  // Aborts incomplete uploads of snapshot names under the folder started more than
  // incomplete_grace ago, and deletes records left without their snapshot as long; uploads and
  // snapshots in the journal (a running save's, or left for RecoverJournaled) are left alone.
  int RemoveIncomplete() override;
  // Settles the journal's leftovers of earlier processes in this bucket: aborts each upload
  // still open, at once; an object completed without its record gets the journaled record
  // when its size and SHA-256 read back match it, and is removed when they do not. Entries
  // are dropped once settled; one that fails stays for the next try. Returns how many
  // uploads and objects it acted on.
  int RecoverJournaled();

  const std::string& folder() const { return folder_; }
  std::string KeyOf(std::string_view name) const { return S3SnapshotKey(folder_, name); }
  std::string MetadataKeyOf(std::string_view name) const { return S3MetadataKey(folder_, name); }
  std::string LocationOf(std::string_view name) const;
  // Requests and retries of every client of this store, for metrics.
  const std::shared_ptr<S3Counters>& counters() const { return counters_; }
  // What List read of each record and k3s object, by key and ETag.
  RecordCache& cache() const { return *cache_; }

 private:
  std::unique_ptr<S3Client> NewClient() const;
  // A client whose connection stays open for the next caller (a TLS handshake per listing
  // costs more than the listing), returned to the store when released.
  struct ClientReturn {
    const S3Store* store;
    void operator()(S3Client* client) const;
  };
  using PooledClient = std::unique_ptr<S3Client, ClientReturn>;
  PooledClient Pooled() const;
  std::string ListPrefix() const;
  // RecoverJournaled for one entry; throws when it could not be settled.
  int Settle(S3Client& client, const JournaledUpload& upload);
  // Deletes every key of `groups` with DeleteObjects (a group's keys in one request where they
  // fit). Returns each group that lost a key, by its index, with the first reason.
  std::vector<std::pair<size_t, std::string>> DeleteKeyGroups(
      S3Client& client, const std::vector<std::vector<std::string>>& groups);
  // The increments directly under `<folder>/.metadata/<prefix>`, by name (s3_increments.cc).
  std::vector<std::string> ListIncrementNames(S3Client& client, std::string_view prefix = "");

  S3StoreOptions options_;
  std::string folder_;
  std::shared_ptr<S3Counters> counters_;
  SystemClock system_clock_;
  mutable std::mutex unreachable_mu_;
  std::string unreachable_;  // why the last Check could not reach S3; "" when it could
  std::unique_ptr<RecordCache> cache_;
  mutable std::mutex idle_mu_;
  mutable std::vector<std::unique_ptr<S3Client>> idle_clients_;
  // The keys of List's last two listings, for RemoveIncomplete right after it (a scheduled save's
  // retention, the start-up count) instead of listing the folder again.
  struct RecentListing {
    std::chrono::steady_clock::time_point at;
    std::set<std::string, std::less<>> snapshots;  // names under the folder
    std::vector<S3Object> records;                 // objects under .metadata/
  };
  // Each snapshot as the last List gave it, with the ETags of its object and record then.
  struct ListedSnapshot {
    std::string object_etag;
    std::string record_etag;  // "" when it had no record
    SnapshotRecord record;
  };
  mutable std::mutex recent_mu_;
  std::optional<RecentListing> recent_;
  std::shared_ptr<const std::unordered_map<std::string, ListedSnapshot>> last_listed_;
};

}  // namespace snapd
