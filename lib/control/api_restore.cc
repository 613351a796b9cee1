// POST /v1/restore: the daemon's part of a restore. It fetches, decodes and verifies a snapshot
// (or builds the snapshot of a moment from a base and its increments) into the staging dir; the
// host steps are snapctl's.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "backup/snapshot_service.h"
#include "control/api_body.h"
#include "control/api_router.h"
#include "control/increments_json.h"
#include "core/error.h"
#include "core/time_format.h"
#include "restore/sqlite_restore.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

// The target of a restore to a moment from "toTime" (RFC 3339) or "toRevision"; none when
// neither is given.
ReplayTarget TargetField(const nlohmann::json& body) {
  ReplayTarget target;
  if (body.contains("toTime")) {
    const std::string text = StringField(body, "toTime", true);
    std::optional<int64_t> t = ParseRfc3339(text);
    if (!t) {
      throw Error::InvalidInput(
          "\"toTime\" must be an RFC 3339 time (2026-12-07T10:00:00Z), got \"" + text + "\"");
    }
    target.unix_ms = *t * 1000;
  }
  if (body.contains("toRevision")) {
    const nlohmann::json& value = body["toRevision"];
    if (!value.is_number_integer() || value.get<int64_t>() < 1) {
      throw Error::InvalidInput("\"toRevision\" must be a revision (a whole number from 1)");
    }
    target.revision = value.get<int64_t>();
  }
  if (target.unix_ms && target.revision) {
    throw Error::InvalidInput("give \"toTime\" or \"toRevision\", not both");
  }
  return target;
}

}  // namespace

ApiResponse ApiRouter::StartRestore(const ApiRequest& request) {
  nlohmann::json body =
      ObjectBody(request, {"name", "storage", "restoreToken", "force", "toTime", "toRevision"});
  const ReplayTarget target = TargetField(body);
  const bool point_in_time = target.unix_ms || target.revision;
  // A moment may leave the base to the daemon: the newest at or before it.
  const std::string name = StringField(body, "name", !point_in_time);
  if (!name.empty()) ValidateSnapshotName(name);
  const std::string storage = StorageField(body);
  const bool with_token = BoolField(body, "restoreToken");
  const bool force = BoolField(body, "force");
  if (backend_.restore_staging_dir.empty()) {
    throw Error::Permanent("restore is not available: no staging directory is configured");
  }
  if (point_in_time && backend_.datastore_kind != "etcd") {
    throw Error::InvalidInput(
        "a point-in-time restore replays etcd's increments; this server's "
        "datastore is " +
        backend_.datastore_kind);
  }
  ApiBackend backend = backend_;
  // Restoring under a live etcd (or under k3s holding its SQLite database) would put two
  // histories on one cluster.
  auto refuse_if_etcd_answers = [backend]() {
    if (backend.etcd == nullptr) {
      std::vector<OpenFileHolder> holders = ProcessesHoldingDatabase(backend.datastore_location);
      if (holders.empty()) return;
      throw Error::Conflict(backend.datastore_location + " is open in " + holders[0].command +
                            " (pid " + std::to_string(holders[0].pid) +
                            "); stop k3s first, or pass --force");
    }
    try {
      EtcdStatus status = backend.etcd->Status(std::chrono::seconds(2));
      throw Error::Conflict("etcd still answers at " + backend.etcd_endpoint + " (version " +
                            status.version + "); stop k3s or etcd first, or pass --force");
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kConflict) throw;
    } catch (const std::exception&) {
    }
  };
  if (!force) refuse_if_etcd_answers();
  std::shared_ptr<const void> hold = backend_.retain ? backend_.retain() : nullptr;
  uint64_t id = backend_.jobs->Start("restore", [=](JobContext& job) {
    nlohmann::json moment = nullptr;
    StagedSnapshot staged;
    if (point_in_time) {
      PointInTimeRequest pit;
      pit.name = name;
      pit.storage = storage;
      pit.target = target;
      pit.dir = backend.restore_staging_dir;
      pit.with_token = with_token;
      pit.work_dir = backend.point_in_time_work_dir + "/job-" + std::to_string(job.id());
      if (backend.increments) {
        pit.extend_window = [status = backend.increments()](ChainWindow& window,
                                                            const std::string& storage) {
          ExtendWindow(window, storage, status);
        };
      }
      PointInTimeStaged built = backend.service->StagePointInTime(pit, job);
      staged = built.staged;
      moment = {{"target", DescribeTarget(target)},
                {"base", built.window.base},
                {"baseRevision", built.window.first_revision},
                {"revision", built.result.revision},
                {"replayedRevisions", built.result.replayed},
                {"hashKV",
                 {{"hash", built.result.hash_kv.hash},
                  {"revision", built.result.hash_kv.revision},
                  {"compactRevision", built.result.hash_kv.compact_revision}}}};
      if (built.result.last_received_unix_ms > 0) {
        moment["receivedAt"] = FormatRfc3339(built.result.last_received_unix_ms / 1000);
      }
    } else {
      staged = backend.service->Stage(name, storage, backend.restore_staging_dir, with_token, job);
    }
    if (staged.record.datastore != backend.datastore_kind) {
      ::unlink(staged.path.c_str());
      if (!staged.token_path.empty()) ::unlink(staged.token_path.c_str());
      throw Error::InvalidInput(staged.record.name + " is a snapshot of " +
                                staged.record.datastore + " but this server's datastore is " +
                                backend.datastore_kind + " (" + backend.datastore_location + ")");
    }
    if (!force) {
      try {
        refuse_if_etcd_answers();
      } catch (...) {
        ::unlink(staged.path.c_str());
        if (!staged.token_path.empty()) ::unlink(staged.token_path.c_str());
        throw;
      }
    }
    (void)hold;
    job.SetResult({
        {"record", RecordToApiJson(staged.record)},
        {"staged", staged.path},
        {"stagedToken", staged.token_path},
        {"snapshotSize", staged.size},
        {"pointInTime", moment},
        {"dataDir", backend.data_dir},
        {"datastore", backend.datastore_kind},
        {"datastoreLocation", backend.datastore_location},
        {"tokenFile", backend.token_file},
        {"currentTokenHash", backend.token_hash ? backend.token_hash() : ""},
    });
  });
  return Json(202, {{"job", JobToJson(*backend_.jobs->Get(id))}});
}

}  // namespace snapd
