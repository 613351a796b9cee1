// Fuzzes snapshot records as read back from `.metadata/<name>` files and from the API's JSON
// (snapctl reads the daemon's answers): never a crash, and what is read writes back the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "fuzz_input.h"
#include "snapshot/snapshot_record.h"

using snapd::fuzz::Check;

namespace {

bool SameRecord(const snapd::SnapshotRecord& a, const snapd::SnapshotRecord& b) {
  return a.name == b.name && a.node == b.node && a.storage == b.storage &&
         a.location == b.location && a.size == b.size && a.sha256 == b.sha256 &&
         a.created_at == b.created_at && a.status == b.status && a.token_hash == b.token_hash &&
         a.compressed == b.compressed && a.encrypted == b.encrypted &&
         a.token_backup == b.token_backup && a.error == b.error;
}

// Metadata files are written by us, by k3s, or by anyone with access to the store.
void CheckMetadata(std::string_view body) {
  snapd::SnapshotRecord record;
  record.name = "etcd-snapshot-n1-1795395723.zip.age";
  record.storage = "local";
  const snapd::SnapshotRecord before = record;
  bool merged = false;
  try {
    merged = snapd::MergeMetadataJson(body, record);
  } catch (...) {
    Check(false, "MergeMetadataJson never throws on outside input");
  }
  if (!merged) {
    Check(SameRecord(record, before), "a refused metadata body leaves the record untouched");
    return;
  }
  Check(record.status == "ready" || record.status == "failed", "merged records have a status");
  // What we read we can write, and it reads back the same.
  snapd::SnapshotRecord again = before;
  Check(snapd::MergeMetadataJson(snapd::RecordToMetadataJson(record), again),
        "a written record merges back");
  Check(SameRecord(again, record), "metadata round trips");
  (void)snapd::RecordToApiJson(record).dump();
}

// Records we write hold names, node names and error texts from anywhere (file names, etcd, S3):
// fields cut from the input at NULs.
void CheckWrittenRecord(std::string_view text) {
  std::string fields[4];
  for (std::string& field : fields) {
    const size_t end = std::min(text.find('\0'), text.size());
    field = std::string(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  snapd::SnapshotRecord record;
  record.name = fields[0];
  record.node = fields[1];
  record.status = fields[2].empty() ? "ready" : "failed";
  record.error = fields[2];
  record.token_hash = fields[3];
  record.size = text.size();
  record.created_at = static_cast<int64_t>(text.size()) * 86399 - 1000000;
  snapd::SnapshotRecord back;
  back.name = record.name;
  Check(snapd::MergeMetadataJson(snapd::RecordToMetadataJson(record), back),
        "every record we write merges back");
  Check(back.size == record.size && back.created_at == record.created_at &&
            back.status == record.status,
        "written numbers and status merge back unchanged");
}

void CheckApiJson(std::string_view body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return;
  snapd::SnapshotRecord record;
  try {
    record = snapd::RecordFromApiJson(json);
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kInvalidInput, "bad API records are invalid input");
    return;
  }
  const snapd::SnapshotRecord again = snapd::RecordFromApiJson(snapd::RecordToApiJson(record));
  Check(SameRecord(again, record), "API JSON round trips");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = snapd::fuzz::AsText(data, size);
  CheckMetadata(body);
  CheckWrittenRecord(body);
  CheckApiJson(body);
  return 0;
}
