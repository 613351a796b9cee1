// SnapshotService's point-in-time use cases: each base's recoverable window for `ls`, and the
// snapshot of a chosen moment staged for a restore.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "backup/snapshot_service.h"
#include "core/error.h"
#include "core/time_format.h"
#include "incremental/stored_chain.h"

namespace snapd {
namespace {

// A base fits a target when it was taken at or before it.
bool AtOrBefore(const SnapshotRecord& record, const ReplayTarget& target) {
  if (target.revision) return static_cast<int64_t>(record.revision) <= *target.revision;
  return record.created_at * 1000 <= *target.unix_ms;
}

bool IsBase(const SnapshotRecord& record) {
  return record.status == "ready" && record.datastore == "etcd" && record.revision > 0;
}

}  // namespace

std::map<std::pair<std::string, std::string>, ChainWindow> SnapshotService::RecoverableWindows(
    const std::vector<SnapshotRecord>& records) {
  std::map<std::pair<std::string, std::string>, ChainWindow> windows;
  for (SnapshotStore* store : stores_) {
    const std::string kind(store->Kind());
    if (std::none_of(records.begin(), records.end(),
                     [&](const SnapshotRecord& r) { return r.storage == kind && IsBase(r); })) {
      continue;
    }
    std::map<std::string, std::vector<IncrementName>> names;
    try {
      names = ListIncrementNames(*store);
    } catch (const std::exception& e) {
      spdlog::warn("cannot list the increments in {}: {}", kind, e.what());
      continue;
    }
    for (const SnapshotRecord& record : records) {
      if (record.storage != kind || !IsBase(record) || !names.contains(record.name)) continue;
      ChainWindow window = WindowOf(record, names);
      if (!window.increments.empty()) windows[{kind, record.name}] = std::move(window);
    }
  }
  return windows;
}

PointInTimeStaged SnapshotService::StagePointInTime(const PointInTimeRequest& request,
                                                    JobContext& job) {
  if (!request.target.revision && !request.target.unix_ms) {
    throw Error::InvalidInput("a point in time needs a time or a revision");
  }
  if (!request.storage.empty() && request.storage != "local" && request.storage != "s3") {
    throw Error::InvalidInput("storage \"" + request.storage + "\": expected local or s3");
  }
  // The base: the one named, else the newest etcd snapshot at or before the target, local first.
  std::optional<SnapshotRecord> base;
  if (!request.name.empty()) {
    base = FindReady(request.name, request.storage);
    if (!IsBase(*base)) {
      throw Error::InvalidInput(request.name + " cannot be a base: " +
                                (base->datastore != "etcd"
                                     ? "it is a " + base->datastore + " snapshot"
                                     : std::string("its revision is not known (taken without "
                                                   "etcd-snapshot-verify-contents, or by k3s)")));
    }
  } else {
    SnapshotListing listing = List(request.storage);
    for (const char* kind : {"local", "s3"}) {
      for (const SnapshotRecord& r : listing.records) {  // newest first
        if (r.storage == kind && IsBase(r) && r.node == options_.node_name &&
            AtOrBefore(r, request.target)) {
          base = r;
          break;
        }
      }
      if (base) break;
    }
    if (!base) {
      throw Error::NotFound("no etcd snapshot of " + options_.node_name + " at or before " +
                            DescribeTarget(request.target) +
                            (request.storage.empty() ? "" : " in " + request.storage));
    }
  }
  SnapshotStore* store = StoreOfKind(base->storage);
  if (store == nullptr) throw Error::NotFound("no " + base->storage + " store is configured");
  ChainWindow window = WindowOf(*base, ListIncrementNames(*store));
  if (request.extend_window) request.extend_window(window, base->storage);
  CheckTargetInWindow(window, request.target);
  spdlog::info("point in time {}: base {} in {}, {} increments to revision {}",
               DescribeTarget(request.target), base->name, base->storage, window.increments.size(),
               window.last_revision);

  StagedSnapshot staged = Stage(base->name, base->storage, request.dir, request.with_token, job);
  const std::string base_path = staged.path;
  auto drop_staged = [&] {
    ::unlink(base_path.c_str());
    if (!staged.token_path.empty()) ::unlink(staged.token_path.c_str());
  };
  const bool encrypted = std::any_of(window.increments.begin(), window.increments.end(),
                                     [](const IncrementName& n) { return n.encrypted; });
  PointInTimeOptions options;
  options.base_path = base_path;
  options.base_revision = static_cast<int64_t>(base->revision);
  options.work_dir = request.work_dir;
  options.output_path = base_path + ".point-in-time";
  options.etcd_binary = request.etcd_binary;
  PointInTimeStaged out;
  try {
    std::filesystem::create_directories(request.work_dir);
    std::vector<AgeIdentity> identities;
    if (encrypted && options_.identities) identities = options_.identities();
    out.result = BuildPointInTime(
        options, request.target, StoredChainFeed(*store, window, std::move(identities)),
        job.cancel(), [](const std::string& step) { spdlog::info("point in time: {}", step); });
  } catch (...) {
    drop_staged();
    ::unlink(options.output_path.c_str());
    throw;
  }
  ::unlink(base_path.c_str());
  // The staged file keeps the base's name: the restore's messages and k3s's reset name it.
  if (::rename(options.output_path.c_str(), base_path.c_str()) != 0) {
    const int err = errno;
    drop_staged();
    ::unlink(options.output_path.c_str());
    throw Error::Permanent("cannot move the point-in-time snapshot into place: " +
                           std::string(std::strerror(err)));
  }
  staged.size = out.result.size;
  out.staged = staged;
  out.window = window;
  return out;
}

}  // namespace snapd
