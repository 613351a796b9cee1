// Snapshot records to and from their metadata and API JSON forms.
#include "snapshot/snapshot_record.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/time_format.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

constexpr const char* kVersionKey = "k3s-snapd-record-version";

}  // namespace

void SetEncodingFromName(SnapshotRecord& record) {
  const SnapshotEncoding encoding = EncodingOfName(record.name);
  record.compressed = encoding.compression != Compression::kNone;
  record.encrypted = encoding.encrypted;
}

std::string RecordToMetadataJson(const SnapshotRecord& r) {
  nlohmann::json j = {
      {kVersionKey, std::to_string(SnapshotRecord::kVersion)},
      {"name", r.name},
      {"node", r.node},
      {"size", std::to_string(r.size)},
      {"sha256", r.sha256},
      {"createdAt", FormatRfc3339(r.created_at)},
      {"status", r.status},
      {"tokenHash", r.token_hash},
      {"compressed", r.compressed ? "true" : "false"},
      {"encrypted", r.encrypted ? "true" : "false"},
      {"tokenBackup", r.token_backup ? "true" : "false"},
      {"datastore", r.datastore},
  };
  if (r.revision != 0) j["revision"] = std::to_string(r.revision);
  if (r.compact_revision != 0) j["compactRevision"] = std::to_string(r.compact_revision);
  if (r.content_checked) {
    j["contentVerified"] = r.content_verified ? "true" : "false";
    if (!r.content_check.empty()) j["contentCheck"] = r.content_check;
  }
  if (r.hash_kv_revision != 0) {
    j["hashKV"] = std::to_string(r.hash_kv);
    j["hashKVRevision"] = std::to_string(r.hash_kv_revision);
    j["hashKVCompactRevision"] = std::to_string(r.hash_kv_compact_revision);
  }
  if (!r.error.empty()) j["error"] = r.error;
  // Node names and error texts are bytes, not always UTF-8: show such bytes as U+FFFD rather
  // than throw (a strict dump throws nlohmann's type_error, and the record is not written).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool MergeMetadataJson(std::string_view body, SnapshotRecord& record) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains(kVersionKey)) return false;
  auto text = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (text(kVersionKey) != std::to_string(SnapshotRecord::kVersion)) return false;
  SnapshotRecord merged = record;
  merged.node = text("node");
  merged.sha256 = text("sha256");
  merged.token_hash = text("tokenHash");
  merged.status = text("status");
  merged.token_backup = text("tokenBackup") == "true";
  merged.error = text("error");
  merged.datastore = text("datastore");
  if (merged.datastore.empty()) merged.datastore = "etcd";  // written before SQLite existed
  if (merged.datastore != "etcd" && merged.datastore != "sqlite") return false;
  SetEncodingFromName(merged);
  merged.content_checked = j.contains("contentVerified");
  merged.content_verified = text("contentVerified") == "true";
  merged.content_check = text("contentCheck");
  if (auto t = ParseRfc3339(text("createdAt"))) merged.created_at = *t;
  try {
    merged.size = std::stoull(text("size"));
    if (j.contains("revision")) merged.revision = std::stoull(text("revision"));
    if (j.contains("compactRevision"))
      merged.compact_revision = std::stoull(text("compactRevision"));
    if (j.contains("hashKVRevision")) {
      const uint64_t hash = std::stoull(text("hashKV"));
      if (hash > UINT32_MAX) return false;
      merged.hash_kv = static_cast<uint32_t>(hash);
      merged.hash_kv_revision = std::stoull(text("hashKVRevision"));
      merged.hash_kv_compact_revision = std::stoull(text("hashKVCompactRevision"));
    }
  } catch (const std::exception&) {
    return false;
  }
  if (merged.status != "ready" && merged.status != "failed") return false;
  record = merged;
  return true;
}

nlohmann::json RecordToApiJson(const SnapshotRecord& r) {
  nlohmann::json j = {
      {"name", r.name},
      {"node", r.node},
      {"storage", r.storage},
      {"location", r.location},
      {"size", r.size},
      {"createdAt", FormatRfc3339(r.created_at)},
      {"compressed", r.compressed},
      {"compression", CompressionName(EncodingOfName(r.name).compression)},
      {"encrypted", r.encrypted},
      {"tokenBackup", r.token_backup},
      {"status", r.status},
      {"tokenHash", r.token_hash},
      {"sha256", r.sha256},
      {"datastore", r.datastore},
  };
  if (r.revision != 0) j["revision"] = r.revision;
  if (r.compact_revision != 0) j["compactRevision"] = r.compact_revision;
  if (r.content_checked) {
    j["contentVerified"] = r.content_verified;
    if (!r.content_check.empty()) j["contentCheck"] = r.content_check;
  }
  if (r.hash_kv_revision != 0) {
    j["hashKV"] = {{"hash", r.hash_kv},
                   {"revision", r.hash_kv_revision},
                   {"compactRevision", r.hash_kv_compact_revision}};
  }
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

SnapshotRecord RecordFromApiJson(const nlohmann::json& j) {
  if (!j.is_object()) throw Error::InvalidInput("snapshot record: expected a JSON object");
  auto need = [&](const char* key, nlohmann::json::value_t type) -> const nlohmann::json& {
    auto it = j.find(key);
    if (it == j.end()) throw Error::InvalidInput(std::string("snapshot record: missing ") + key);
    bool ok = it->type() == type || (type == nlohmann::json::value_t::number_unsigned &&
                                     it->is_number_integer() && it->get<int64_t>() >= 0);
    if (!ok)
      throw Error::InvalidInput(std::string("snapshot record: ") + key + " has the wrong type");
    return *it;
  };
  using T = nlohmann::json::value_t;
  SnapshotRecord r;
  r.name = need("name", T::string).get<std::string>();
  r.node = need("node", T::string).get<std::string>();
  r.storage = need("storage", T::string).get<std::string>();
  r.location = need("location", T::string).get<std::string>();
  r.size = need("size", T::number_unsigned).get<uint64_t>();
  auto created = ParseRfc3339(need("createdAt", T::string).get<std::string>());
  if (!created) throw Error::InvalidInput("snapshot record: createdAt is not RFC 3339");
  r.created_at = *created;
  r.compressed = need("compressed", T::boolean).get<bool>();
  r.status = need("status", T::string).get<std::string>();
  r.token_hash = need("tokenHash", T::string).get<std::string>();
  if (auto it = j.find("sha256"); it != j.end() && it->is_string()) r.sha256 = *it;
  if (auto it = j.find("error"); it != j.end() && it->is_string()) r.error = *it;
  if (auto it = j.find("encrypted"); it != j.end() && it->is_boolean()) r.encrypted = *it;
  if (auto it = j.find("tokenBackup"); it != j.end() && it->is_boolean()) r.token_backup = *it;
  if (auto it = j.find("datastore"); it != j.end() && it->is_string()) r.datastore = *it;
  if (auto it = j.find("revision"); it != j.end() && it->is_number_unsigned()) r.revision = *it;
  if (auto it = j.find("compactRevision"); it != j.end() && it->is_number_unsigned()) {
    r.compact_revision = *it;
  }
  if (auto it = j.find("contentVerified"); it != j.end() && it->is_boolean()) {
    r.content_checked = true;
    r.content_verified = *it;
  }
  if (auto it = j.find("contentCheck"); it != j.end() && it->is_string()) r.content_check = *it;
  if (auto it = j.find("hashKV"); it != j.end() && it->is_object()) {
    auto number = [&](const char* key) -> uint64_t {
      auto f = it->find(key);
      return f != it->end() && f->is_number_unsigned() ? f->get<uint64_t>() : 0;
    };
    r.hash_kv = static_cast<uint32_t>(number("hash"));
    r.hash_kv_revision = number("revision");
    r.hash_kv_compact_revision = number("compactRevision");
  }
  return r;
}

}  // namespace snapd
