// S3Store::RecoverJournaled: settles the uploads an earlier process journaled and never ended
// (a crash, a kill, a power cut), at start and without a grace period: they are ours.
#include <spdlog/spdlog.h>

#include "core/digest.h"
#include "core/error.h"
#include "s3/key_upload_abort.h"
#include "snapshot/snapshot_name.h"
#include "store/s3_store.h"

namespace snapd {
namespace {

// Counts and hashes an object as it streams back.
class DigestSink final : public ByteSink {
 public:
  void Write(std::string_view chunk) override {
    hash_.Update(chunk);
    size_ += chunk.size();
  }
  uint64_t size() const { return size_; }
  std::string Hex() { return DigestHex(hash_.Finish()); }

 private:
  Sha256 hash_;
  uint64_t size_ = 0;
};

// The folder of `key`, the key of snapshot `name`: the journal keeps the key the save used,
// which a changed etcd-s3-folder does not move.
std::string FolderOf(const std::string& key, const std::string& name) {
  if (key == name) return "";
  if (!key.ends_with("/" + name)) {
    throw Error::Corrupt("journaled key " + key + " does not end with snapshot " + name);
  }
  return key.substr(0, key.size() - name.size() - 1);
}

bool Exists(S3Client& client, const std::string& key) {
  try {
    client.HeadObject(key);
    return true;
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return false;
    throw;
  }
}

}  // namespace

int S3Store::RecoverJournaled() {
  if (options_.journal == nullptr) return 0;
  UploadLeftovers leftovers = options_.journal->Leftovers();
  for (const std::string& problem : leftovers.problems) spdlog::warn("{}", problem);
  if (leftovers.uploads.empty()) return 0;
  std::unique_ptr<S3Client> client = NewClient();
  int settled = 0;
  for (const JournaledUpload& upload : leftovers.uploads) {
    if (upload.bucket != options_.client.bucket) {
      spdlog::warn(
          "the interrupted upload of {} is in bucket {}, not the configured {}: left in the "
          "journal ({})",
          upload.snapshot, upload.bucket, options_.client.bucket, options_.journal->dir());
      continue;
    }
    try {
      settled += Settle(*client, upload);
      options_.journal->Remove(upload.snapshot);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kCancelled) throw;
      spdlog::warn("cannot settle the interrupted upload of {} (tried again later): {}",
                   client->Location(upload.key), e.what());
    }
  }
  return settled;
}

int S3Store::Settle(S3Client& client, const JournaledUpload& upload) {
  const std::string location = client.Location(upload.key);
  const std::string folder = FolderOf(upload.key, upload.snapshot);
  // The journaled upload (a no-op when it was completed, as the record below tells, or aborted
  // already), one whose creation was cut before its id was journaled, and one that came back.
  const bool aborted = AbortUploadsOfKey(client, upload.key, upload.upload_id) > 0;
  const std::string token_key = S3MetadataKey(folder, TokenBackupName(upload.snapshot));
  // Without a record the object was never completed; with one, it may have been.
  if (!upload.record || !Exists(client, upload.key)) {
    // Only the token backup, written just before completing, may be left.
    if (upload.record && upload.record->token_backup) client.DeleteObject(token_key);
    if (aborted) {
      spdlog::info("aborted the upload of {}, left open by an interrupted save", location);
    }
    return aborted ? 1 : 0;
  }
  const SnapshotRecord& record = *upload.record;
  const std::string record_key = S3MetadataKey(folder, upload.snapshot);
  if (Exists(client, record_key)) return 0;  // the save got to its end

  DigestSink read_back;
  client.GetObject(upload.key, read_back);
  const std::string sha256 = read_back.Hex();
  if (read_back.size() == record.size && (record.sha256.empty() || sha256 == record.sha256)) {
    S3PutOptions put;
    put.content_type = "application/json";
    put.metadata = S3RecordMetadata(record, options_.cluster_id);
    client.PutObject(record_key, RecordToMetadataJson(record), put);
    spdlog::info(
        "finished {}: the save was interrupted before its record; the object reads "
        "back as saved ({} bytes, sha256 {})",
        location, read_back.size(), sha256);
    return 1;
  }
  client.DeleteObject(upload.key);
  if (record.token_backup) client.DeleteObject(token_key);
  spdlog::warn(
      "removed {}: the save was interrupted before its record and the object reads "
      "back as {} bytes with sha256 {}, not the {} bytes with sha256 {} saved",
      location, read_back.size(), sha256, record.size, record.sha256);
  return 1;
}

}  // namespace snapd
