// OpenStoredSnapshot: a plain local copy is read where it lies (the reader checks its structure
// as it goes, as `etcdctl snapshot status` does); other copies go through Stage, which checks
// the stored bytes against the record and etcd's trailer.
#include "backup/snapshot_inspection.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace snapd {

OpenedSnapshot::OpenedSnapshot(SnapshotRecord record, std::string staged_path)
    : record_(std::move(record)), staged_path_(std::move(staged_path)) {}

OpenedSnapshot::~OpenedSnapshot() {
  contents_.reset();
  if (!staged_path_.empty() && ::unlink(staged_path_.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("inspect: could not remove {}: {}", staged_path_, std::strerror(errno));
  }
}

std::unique_ptr<OpenedSnapshot> OpenStoredSnapshot(SnapshotService& service,
                                                   const std::string& name,
                                                   const std::string& storage,
                                                   const std::string& scratch_dir,
                                                   JobContext& job) {
  job.SetSnapshot(name);
  SnapshotRecord record = service.FindReady(name, storage);
  constexpr std::string_view kFileScheme = "file://";
  std::unique_ptr<OpenedSnapshot> opened;
  std::string path;
  if (record.storage == "local" && !record.compressed && !record.encrypted &&
      record.location.starts_with(kFileScheme)) {
    path = record.location.substr(kFileScheme.size());
    opened = std::make_unique<OpenedSnapshot>(record, "");
  } else {
    if (scratch_dir.empty()) {
      throw Error::Permanent(name + " is " + record.storage +
                             (record.compressed || record.encrypted ? " and encoded" : "") +
                             ": reading it needs a scratch directory (state-dir), none is set");
    }
    StagedSnapshot staged = service.Stage(name, record.storage, scratch_dir, false, job);
    record = staged.record;
    path = staged.path;
    opened = std::make_unique<OpenedSnapshot>(record, staged.path);
  }
  try {
    opened->contents_ = OpenSnapshotContents(path);
  } catch (const Error& e) {
    throw e.WithContext(record.storage + " " + name);
  }
  return opened;
}

}  // namespace snapd
