// Control API routing and JSON (de)serialisation.
#include "control/api_router.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

#include "control/api_body.h"
#include "control/api_routes.h"
#include "control/increments_json.h"
#include "control/snapshot_query.h"
#include "core/error.h"
#include "core/time_format.h"
#include "restore/sqlite_restore.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

int64_t UnixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::json TimeOrNull(std::optional<int64_t> t) {
  return t ? nlohmann::json(FormatRfc3339(*t)) : nlohmann::json(nullptr);
}

// Sets `value` from the integer field `key` of `body` when it is there; refuses anything but an
// int, and a negative one when `non_negative`.
void ReadIntField(const nlohmann::json& body, const std::string& key, bool non_negative,
                  int& value) {
  auto it = body.find(key);
  if (it == body.end()) return;
  if (!it->is_number_integer()) throw Error::InvalidInput("\"" + key + "\" must be an integer");
  const bool fits = it->is_number_unsigned()
                        ? it->get<uint64_t>() <= uint64_t{std::numeric_limits<int>::max()}
                        : it->get<int64_t>() >= std::numeric_limits<int>::min() &&
                              it->get<int64_t>() <= std::numeric_limits<int>::max();
  if (!fits) throw Error::InvalidInput("\"" + key + "\" is out of range: " + it->dump());
  value = it->get<int>();
  if (non_negative && value < 0) {
    throw Error::InvalidInput("\"" + key + "\" must not be negative, got " + std::to_string(value));
  }
}

uint64_t ParseJobId(const std::string& text) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw Error::InvalidInput("job id \"" + text + "\" is not a number");
  }
  return id;
}

}  // namespace

nlohmann::json JobToJson(const JobState& job) {
  nlohmann::json records = nlohmann::json::array();
  for (const SnapshotRecord& r : job.records) records.push_back(RecordToApiJson(r));
  nlohmann::json j = {
      {"id", job.id},
      {"kind", job.kind},
      {"state", job.state},
      {"snapshot", job.snapshot},
      {"startedAt", FormatRfc3339(job.started_at)},
      {"finishedAt",
       job.finished_at ? nlohmann::json(FormatRfc3339(job.finished_at)) : nlohmann::json(nullptr)},
      {"bytes", job.bytes},
      {"total", job.total},
      {"records", records},
  };
  if (!job.error.empty()) j["error"] = job.error;
  if (!job.result.is_null()) j["result"] = job.result;
  return j;
}

ApiResponse ApiRouter::Handle(const ApiRequest& request) {
  ApiRoute route = MatchRoute(request.method, request.target);
  switch (route.operation) {
    case ApiOperation::kHealth:
      return Json(200, {{"status", "ok"}});
    case ApiOperation::kMetrics:
      return Metrics();
    case ApiOperation::kStatus:
      return Status();
    case ApiOperation::kListSnapshots:
      return ListSnapshots(request);
    case ApiOperation::kSave:
      return StartSave(request);
    case ApiOperation::kDelete:
      return route.path.size() == 2 ? DeleteSnapshots(request) : DeleteSnapshot(route.path[2]);
    case ApiOperation::kGetJob:
      return GetJob(route.path[2], request.peer);
    case ApiOperation::kCancelJob:
      return CancelJob(route.path[2]);
    case ApiOperation::kVerify:
      return StartVerify(request);
    case ApiOperation::kRestore:
      return StartRestore(request);
    case ApiOperation::kPrune:
      return Prune(request);
    case ApiOperation::kInspect:
      return StartInspect(request);
    case ApiOperation::kGetKeys:
      return StartGet(request);
    case ApiOperation::kDiff:
      return StartDiff(request);
    case ApiOperation::kUndelete:
      return StartUndelete(request);
    case ApiOperation::kWrongMethod:
      return ErrorResponse(405,
                           request.method + " is not allowed on " + request.target + " (use " +
                               route.allowed_methods + ")",
                           "invalid_input");
    case ApiOperation::kNoSuchPath:
      break;
  }
  return ErrorResponse(404, "no such endpoint: " + request.method + " " + request.target,
                       "not_found");
}

nlohmann::json ApiRouter::DatastoreStatus() const {
  nlohmann::json status = {{"kind", backend_.datastore_kind},
                           {"location", backend_.datastore_location}};
  if (backend_.etcd != nullptr) {
    try {
      EtcdStatus s = backend_.etcd->Status(std::chrono::seconds(3));
      status["reachable"] = true;
      status["version"] = s.version;
      status["dbSize"] = s.db_size;
    } catch (const std::exception& e) {
      status["reachable"] = false;
      status["error"] = e.what();
    }
    return status;
  }
  struct stat st;
  if (::stat(backend_.datastore_location.c_str(), &st) != 0) {
    status["reachable"] = false;
    status["error"] = backend_.datastore_location + ": " + std::strerror(errno);
  } else {
    status["reachable"] = true;
    status["dbSize"] = static_cast<uint64_t>(st.st_size);
  }
  return status;
}

ApiResponse ApiRouter::Status() {
  nlohmann::json datastore = DatastoreStatus();
  nlohmann::json last_success = nullptr;
  if (auto job = backend_.jobs->LastFinished(kSaveJobKinds, "succeeded")) {
    last_success = {
        {"time", FormatRfc3339(job->finished_at)}, {"snapshot", job->snapshot}, {"job", job->id}};
  }
  nlohmann::json last_failure = nullptr;
  if (auto job = backend_.jobs->LastFinished(kSaveJobKinds, "failed")) {
    last_failure = {{"time", FormatRfc3339(job->finished_at)},
                    {"snapshot", job->snapshot},
                    {"job", job->id},
                    {"error", job->error}};
  }
  std::optional<int64_t> next;
  if (backend_.next_run) {
    if (auto t = backend_.next_run()) next = UnixSeconds(*t);
  }
  // Which server uploaded the newest scheduled run, when several servers share one S3 folder.
  nlohmann::json last_upload = nullptr;
  if (const ScheduledUploadStatus upload = backend_.service != nullptr
                                               ? backend_.service->LastScheduledUpload()
                                               : ScheduledUploadStatus{};
      upload.fire_unix > 0) {
    last_upload = {{"fireTime", FormatRfc3339(upload.fire_unix)},
                   {"node", upload.node},
                   {"snapshot", upload.snapshot.empty() ? nlohmann::json(nullptr)
                                                        : nlohmann::json(upload.snapshot)},
                   {"state", upload.state}};
  }
  auto running = backend_.jobs->Running();
  nlohmann::json body = {
      {"node", backend_.node_name},
      {"datastore", datastore},
      {"schedule",
       {{"enabled", !backend_.schedule.empty()},
        {"cron", backend_.schedule},
        {"prefix", backend_.scheduled_prefix},
        {"nextRun", TimeOrNull(next)},
        {"uploadBy",
         backend_.upload_by.empty() ? nlohmann::json(nullptr) : nlohmann::json(backend_.upload_by)},
        {"lastUpload", last_upload}}},
      {"lastSuccess", last_success},
      {"lastFailure", last_failure},
      {"job", running ? JobToJson(*running) : nlohmann::json(nullptr)},
      {"storage", backend_.storage_status ? backend_.storage_status() : nlohmann::json::array()},
      {"config", backend_.config_summary},
      {"configSources", backend_.config_sources},
      {"increments", backend_.increments
                         ? RecorderStatusToJson(backend_.increments(), UnixMillisNow())
                         : nlohmann::json(nullptr)},
  };
  if (backend_.etcd != nullptr) {
    // The etcd section as before the datastore one existed, for clients that read it.
    nlohmann::json etcd = datastore;
    etcd.erase("kind");
    etcd.erase("location");
    etcd["endpoint"] = backend_.etcd_endpoint;
    body["etcd"] = etcd;
  }
  return Json(200, body);
}

ApiResponse ApiRouter::ListSnapshots(const ApiRequest& request) {
  const SnapshotQuery query = ParseSnapshotQuery(request.target);
  // A store not asked for is not listed at all: `ls --storage local` needs no S3.
  SnapshotListing listing = backend_.service->List(query.storage);
  ApplySnapshotQuery(query, listing.records);
  nlohmann::json errors = nlohmann::json::array();
  for (const StoreError& e : listing.errors) {
    errors.push_back({{"storage", e.storage}, {"error", e.message}});
  }
  // The same document Json() would make, one record at a time: with thousands of snapshots,
  // building (and freeing) one tree of them all cost more than listing S3.
  std::map<std::pair<std::string, std::string>, ChainWindow> windows;
  std::optional<RecorderStatus> recording;
  if (backend_.increments) {
    recording = backend_.increments();
    windows = backend_.service->RecoverableWindows(listing.records);
    // The live chain's base shows its window before its first increment is written.
    for (const StoreChainStatus& s : recording->stores) {
      auto key = std::make_pair(s.storage, s.base);
      if (!windows.contains(key)) {
        windows[key] =
            ChainWindow{s.base, s.first_revision, s.first_unix, s.first_revision, s.first_unix, {}};
      }
    }
  }
  ApiResponse response;
  response.body = "{\"errors\":" + DumpJson(errors) + ",\"snapshots\":[";
  for (size_t i = 0; i < listing.records.size(); ++i) {
    if (i > 0) response.body += ',';
    const SnapshotRecord& record = listing.records[i];
    nlohmann::json json = RecordToApiJson(record);
    if (auto it = windows.find({record.storage, record.name}); it != windows.end()) {
      ExtendWindow(it->second, record.storage, *recording);
      json["recoverable"] = WindowToJson(it->second);
    }
    response.body += DumpJson(json);
  }
  response.body += "]}\n";
  return response;
}

ApiResponse ApiRouter::StartSave(const ApiRequest& request) {
  nlohmann::json body = ObjectBody(request, {"name"});
  std::string prefix = backend_.on_demand_prefix;
  if (body.contains("name")) {
    if (!body["name"].is_string()) throw Error::InvalidInput("\"name\" must be a string");
    prefix = body["name"].get<std::string>();
  }
  ValidateNamePrefix(prefix, "snapshot name prefix");
  SnapshotService* service = backend_.service;
  std::shared_ptr<const void> hold = backend_.retain ? backend_.retain() : nullptr;
  uint64_t id = backend_.jobs->Start(
      "save", [service, prefix, hold](JobContext& job) { service->Save(prefix, job); });
  return Json(202, {{"job", JobToJson(*backend_.jobs->Get(id))}});
}

ApiResponse ApiRouter::GetJob(const std::string& id_text, const PeerCredentials& peer) {
  uint64_t id = ParseJobId(id_text);
  auto job = backend_.jobs->Get(id);
  if (!job) throw Error::NotFound("job " + id_text + " not found (only recent jobs are kept)");
  if (!MayReadJobResult(*job, peer)) job->result = {{"withheld", "only its requester sees it"}};
  return Json(200, JobToJson(*job));
}

ApiResponse ApiRouter::CancelJob(const std::string& id_text) {
  // 202: the job stops at its next check; GET /v1/jobs/{id} tells when it has.
  return Json(202, {{"job", JobToJson(backend_.jobs->Cancel(ParseJobId(id_text)))}});
}

ApiResponse ApiRouter::DeleteSnapshot(const std::string& name) {
  ValidateSnapshotName(name);
  std::vector<std::string> removed;
  backend_.jobs->Run("delete", [&](JobContext& context) {
    context.SetSnapshot(name);
    removed = backend_.service->Delete(name);
  });
  return Json(200, {{"name", name}, {"deletedFrom", removed}});
}

ApiResponse ApiRouter::DeleteSnapshots(const ApiRequest& request) {
  nlohmann::json body = ObjectBody(request, {"names"});
  auto it = body.find("names");
  if (it == body.end() || !it->is_array() || it->empty()) {
    throw Error::InvalidInput("\"names\" must be a non-empty array of snapshot names");
  }
  std::vector<std::string> names;
  for (const nlohmann::json& name : *it) {
    if (!name.is_string()) throw Error::InvalidInput("\"names\" must hold strings");
    ValidateSnapshotName(name.get<std::string>());
    names.push_back(name.get<std::string>());
  }
  std::vector<DeleteOutcome> outcomes;
  backend_.jobs->Run("delete", [&](JobContext& context) {
    if (names.size() == 1) context.SetSnapshot(names.front());
    outcomes = backend_.service->DeleteMany(names);
  });
  nlohmann::json results = nlohmann::json::array();
  for (const DeleteOutcome& o : outcomes) {
    if (o.error.empty()) {
      results.push_back({{"name", o.name}, {"deletedFrom", o.deleted_from}});
    } else {
      results.push_back({{"name", o.name}, {"error", o.error}, {"deletedFrom", o.deleted_from}});
    }
  }
  return Json(200, {{"results", results}});
}

ApiResponse ApiRouter::Prune(const ApiRequest& request) {
  nlohmann::json body = ObjectBody(request, {"name", "retention", "keepHourly", "keepDaily",
                                             "keepWeekly", "keepMonthly", "dryRun"});
  std::string prefix = backend_.on_demand_prefix;
  if (body.contains("name")) {
    if (!body["name"].is_string()) throw Error::InvalidInput("\"name\" must be a string");
    prefix = body["name"].get<std::string>();
  }
  // A request naming any rule gets just the rules it names, so that "retention": 1 keeps one,
  // as k3s's prune does; one naming none gets the daemon's. The count may be negative, as
  // k3s's (< 1 turns it off); the calendar rules are 0 when off.
  RetentionPolicy policy;
  if (!body.contains("retention") && !body.contains("keepHourly") && !body.contains("keepDaily") &&
      !body.contains("keepWeekly") && !body.contains("keepMonthly")) {
    policy = backend_.default_retention;
  }
  ReadIntField(body, "retention", false, policy.last);
  ReadIntField(body, "keepHourly", true, policy.hourly);
  ReadIntField(body, "keepDaily", true, policy.daily);
  ReadIntField(body, "keepWeekly", true, policy.weekly);
  ReadIntField(body, "keepMonthly", true, policy.monthly);
  if (body.contains("dryRun") && !body["dryRun"].is_boolean()) {
    throw Error::InvalidInput("\"dryRun\" must be true or false");
  }
  const bool dry_run = body.value("dryRun", false);
  ValidateNamePrefix(prefix, "snapshot name prefix");
  std::vector<PruneReport> reports;
  backend_.jobs->Run(
      "prune", [&](JobContext&) { reports = backend_.service->Prune(prefix, policy, dry_run); });
  nlohmann::json out = nlohmann::json::array();
  for (const PruneReport& report : reports) {
    nlohmann::json decisions = nlohmann::json::array();
    for (const RetentionDecision& d : report.decisions) {
      if (!HasNamePrefix(d.name, prefix)) continue;
      decisions.push_back({{"name", d.name}, {"keep", d.keep}, {"reason", d.reason}});
    }
    out.push_back({{"storage", report.storage},
                   {"removed", report.removed},
                   {"decisions", decisions},
                   {"errors", report.errors}});
  }
  return Json(200, {{"prefix", prefix},
                    {"retention", policy.last},
                    {"keepHourly", policy.hourly},
                    {"keepDaily", policy.daily},
                    {"keepWeekly", policy.weekly},
                    {"keepMonthly", policy.monthly},
                    {"dryRun", dry_run},
                    {"stores", out}});
}

ApiResponse ApiRouter::StartVerify(const ApiRequest& request) {
  nlohmann::json body = ObjectBody(request, {"name", "all"});
  std::string name;
  if (body.contains("name")) {
    if (!body["name"].is_string()) throw Error::InvalidInput("\"name\" must be a string");
    name = body["name"].get<std::string>();
    ValidateSnapshotName(name);
  }
  const bool all = body.value("all", false);
  if (name.empty() == !all) throw Error::InvalidInput("give either \"name\" or \"all\": true");
  SnapshotService* service = backend_.service;
  std::shared_ptr<const void> hold = backend_.retain ? backend_.retain() : nullptr;
  uint64_t id = backend_.jobs->Start("verify", [service, name, hold](JobContext& job) {
    std::vector<VerifyReport> reports = service->Verify(name, job);
    nlohmann::json result = nlohmann::json::array();
    std::string failures;
    int failed = 0;
    for (const VerifyReport& r : reports) {
      nlohmann::json entry = {{"name", r.record.name},
                              {"storage", r.record.storage},
                              {"location", r.record.location},
                              {"ok", r.ok}};
      if (r.ok) {
        entry["snapshotSize"] = r.snapshot_size;
        entry["datastore"] = r.record.datastore;
      }
      if (!r.ok) {
        entry["error"] = r.error;
        if (failed++ == 0) failures = r.error;
      }
      result.push_back(entry);
    }
    job.SetResult({{"verified", result}});
    if (failed > 0) {
      throw Error::Corrupt(std::to_string(failed) + " of " + std::to_string(reports.size()) +
                           " copies failed verification; first: " + failures);
    }
  });
  return Json(202, {{"job", JobToJson(*backend_.jobs->Get(id))}});
}

ApiResponse ApiRouter::Metrics() {
  if (backend_.metrics == nullptr) throw Error::NotFound("metrics are not enabled");
  ApiResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = backend_.metrics->Render();
  return response;
}

}  // namespace snapd
