// The record kept for every snapshot: what it is, where it is, and how to check it. Stored as
// k3s keeps extra metadata (a flat JSON object of strings in `.metadata/<name>`), so k3s reads
// our metadata files without complaint and we read k3s's snapshots without one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace snapd {

struct SnapshotRecord {
  // Persisted format version; bump on incompatible change of the metadata JSON.
  static constexpr int kVersion = 1;

  std::string name;
  std::string node;
  std::string storage;             // "local" or "s3"
  std::string location;            // "file:///abs/path" or "s3://bucket/key"
  uint64_t size = 0;               // bytes as stored (compressed, encrypted)
  std::string sha256;              // hex SHA-256 of the stored bytes; empty when unknown (k3s-made)
  int64_t created_at = 0;          // unix seconds
  std::string status = "ready";    // "ready" or "failed"
  std::string token_hash;          // k3s token hash (12 hex) of the server token at save time
  bool compressed = false;         // zip or zstd, as the name says
  bool encrypted = false;          // age, as the name says
  bool token_backup = false;       // the server token was saved beside it, encrypted
  std::string error;               // why a failed snapshot failed
  std::string datastore = "etcd";  // what it was taken from: "etcd" or "sqlite"
  uint64_t revision = 0;           // the datastore's revision at the copy; 0 when not known
  uint64_t compact_revision = 0;   // its compact revision at the copy; 0 when not known
  // The proof at save time that an etcd snapshot holds the cluster's key space: etcd's HashKV
  // of the snapshot at its revision, computed from the file and asked of etcd.
  bool content_checked = false;   // false: no proof was tried (SQLite, older records)
  bool content_verified = false;  // the two hashes agreed
  std::string content_check;      // why it could not be verified, when checked but not verified
  uint32_t hash_kv = 0;           // the snapshot's HashKV, when hash_kv_revision != 0
  uint64_t hash_kv_revision = 0;
  uint64_t hash_kv_compact_revision = 0;
};

// Sets compressed and encrypted from the record's (stored) name.
void SetEncodingFromName(SnapshotRecord& record);

// The `.metadata/<name>` file body: a JSON object of string values.
std::string RecordToMetadataJson(const SnapshotRecord& record);

// Fills node, sha256, created_at, token_hash, status, size, token_backup, error, datastore and
// revisions (and compressed and encrypted from the name) from a metadata body written by
// RecordToMetadataJson (a record without datastore is an etcd one). Returns false (record
// untouched) when the body is not ours (k3s's extra metadata) or not JSON; never throws on outside
// input.
bool MergeMetadataJson(std::string_view body, SnapshotRecord& record);

// The API form (`snapctl ls -o json`): name, node, storage, location, size, createdAt
// (RFC 3339), compressed, compression (none|zip|zstd), encrypted, tokenBackup, status,
// tokenHash, sha256, datastore (etcd|sqlite), revision and compactRevision when known,
// contentVerified (and contentCheck, why not) and hashKV {hash, revision, compactRevision} when a
// proof was tried, and error when failed.
nlohmann::json RecordToApiJson(const SnapshotRecord& record);
// Throws Error::InvalidInput naming the missing or mistyped field.
SnapshotRecord RecordFromApiJson(const nlohmann::json& json);

}  // namespace snapd
