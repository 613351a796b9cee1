// S3Store's increments (point-in-time recovery): small objects kept directly under
// `<folder>/.metadata/`, beside the records, where k3s never lists them (it skips every key whose
// parent directory is `.metadata`). Each is written whole by one PutObject, which S3 makes
// visible atomically; Remove and RemoveMany (s3_store.cc) remove a snapshot's increments with it.
#include <algorithm>

#include "core/error.h"
#include "snapshot/snapshot_name.h"
#include "store/s3_store.h"

namespace snapd {

std::vector<std::string> S3Store::ListIncrementNames(S3Client& client, std::string_view prefix) {
  const std::string metadata_prefix = MetadataKeyOf("");
  // The delimiter keeps deeper keys out: an increment is directly under `.metadata/`.
  std::vector<std::string> names;
  for (const S3Object& object : client.ListAllObjects(metadata_prefix + std::string(prefix), "/")) {
    std::string name = object.key.substr(metadata_prefix.size());
    if (IsIncrementName(name)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

void S3Store::PutIncrement(const std::string& name, std::string_view bytes) {
  ValidateIncrementName(name);
  if (bytes.size() > kMaxIncrementSize) {
    throw Error::InvalidInput("increment " + name + " is " + std::to_string(bytes.size()) +
                              " bytes, more than the " + std::to_string(kMaxIncrementSize) +
                              " a store keeps");
  }
  S3PutOptions put;
  put.content_type = "application/octet-stream";
  Pooled()->PutObject(MetadataKeyOf(name), bytes, put);
}

std::vector<std::string> S3Store::ListIncrements() {
  return ListIncrementNames(*Pooled());
}

std::string S3Store::ReadIncrement(const std::string& name) {
  ValidateIncrementName(name);
  try {
    return Pooled()->GetSmallObject(MetadataKeyOf(name), kMaxIncrementSize);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotFound) throw;
    throw Error::NotFound("increment " + name + " not found at s3://" + options_.client.bucket +
                          "/" + MetadataKeyOf(name));
  }
}

std::vector<RemoveFailure> S3Store::RemoveIncrements(const std::vector<std::string>& names) {
  std::vector<RemoveFailure> failures;
  std::vector<std::string> valid;
  std::vector<std::vector<std::string>> groups;  // one key each
  for (const std::string& name : names) {
    if (!IsIncrementName(name)) {
      failures.push_back({name, "not an increment name"});
      continue;
    }
    valid.push_back(name);
    groups.push_back({MetadataKeyOf(name)});
  }
  if (groups.empty()) return failures;
  for (const auto& [group, why] : DeleteKeyGroups(*Pooled(), groups)) {
    failures.push_back({valid[group], why});
  }
  return failures;
}

}  // namespace snapd
