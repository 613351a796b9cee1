// Opens a stored snapshot for reading its contents (inspect, get, diff, undelete): a plain local
// copy in place, anything else (S3, compressed, encrypted) decoded and verified into a private
// scratch file first, removed again when done.
#pragma once

#include <memory>
#include <string>

#include "backup/job_runner.h"
#include "backup/snapshot_service.h"
#include "inspect/snapshot_contents.h"
#include "snapshot/snapshot_record.h"

namespace snapd {

class OpenedSnapshot {
 public:
  OpenedSnapshot(SnapshotRecord record, std::string staged_path);
  ~OpenedSnapshot();  // closes the contents, then removes the scratch file
  OpenedSnapshot(const OpenedSnapshot&) = delete;
  OpenedSnapshot& operator=(const OpenedSnapshot&) = delete;

  const SnapshotRecord& record() const { return record_; }
  const SnapshotContents& contents() const { return *contents_; }
  bool staged() const { return !staged_path_.empty(); }

 private:
  friend std::unique_ptr<OpenedSnapshot> OpenStoredSnapshot(SnapshotService&, const std::string&,
                                                            const std::string&, const std::string&,
                                                            JobContext&);
  SnapshotRecord record_;
  std::string staged_path_;
  std::unique_ptr<SnapshotContents> contents_;
};

// Opens ready snapshot `name` from `storage` ("" = local when it is there, else S3). `scratch_dir`
// is a private directory for decoded copies; callers opening two snapshots at once give each its
// own. Errors name the snapshot and the copy.
std::unique_ptr<OpenedSnapshot> OpenStoredSnapshot(SnapshotService& service,
                                                   const std::string& name,
                                                   const std::string& storage,
                                                   const std::string& scratch_dir, JobContext& job);

}  // namespace snapd
