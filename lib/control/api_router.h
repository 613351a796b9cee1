// The control API's routes (documented in docs/api.md): a plain function from request to
// response over the daemon's use cases, so it is tested without a socket.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "backup/job_runner.h"
#include "backup/snapshot_service.h"
#include "control/api_message.h"
#include "core/error.h"
#include "etcd/etcd_client.h"
#include "incremental/increment_recorder.h"
#include "metrics/snapshot_metrics.h"

namespace snapd {

struct ApiBackend {
  SnapshotService* service = nullptr;
  JobRunner* jobs = nullptr;
  EtcdClient* etcd = nullptr;  // null when the datastore is SQLite
  std::string etcd_endpoint;
  // What snapshots are taken from, for status: kind ("etcd"|"sqlite") and location.
  std::string datastore_kind = "etcd";
  std::string datastore_location;
  std::string node_name;
  std::string scheduled_prefix;
  std::string on_demand_prefix = "on-demand";  // `save` and `prune` without a name
  // `prune` without --snapshot-retention or --keep-*: the local store's scheduled retention.
  RetentionPolicy default_retention{.last = 5};
  // Schedule facts for status: spec ("" when scheduled snapshots are disabled) and next run.
  std::string schedule;
  // "one-server" when several servers of the etcd cluster take turns uploading scheduled runs
  // (etcd-s3-upload-by); "" when every server uploads its own.
  std::string upload_by;
  std::function<std::optional<SystemTime>()> next_run;
  // Each store's kind, location and health for status: [{"storage","location","ok","error"}].
  std::function<nlohmann::json()> storage_status;
  // Keeps the objects behind these pointers alive for as long as a job started here runs,
  // even if a reload replaced them meanwhile. May be empty.
  std::function<std::shared_ptr<const void>()> retain;
  // Extra, already-redacted facts shown in status under "config".
  nlohmann::json config_summary;
  // Where each of those values came from, shown under "configSources" (never a value).
  nlohmann::json config_sources;
  // What GET /metrics renders; null answers it 404.
  const SnapshotMetrics* metrics = nullptr;
  // Restore: where snapshots are staged, and the k3s facts snapctl needs for the host steps.
  std::string restore_staging_dir;
  std::string data_dir;
  std::string token_file;
  std::function<std::string()> token_hash;  // of the current server token; "" when unknown
  // Inspect, get, diff and undelete: where encoded or remote copies are decoded to be read
  // (a private directory; "" = only plain local copies can be read), and the live etcd that
  // undelete writes to (null when the datastore is SQLite).
  std::string inspect_scratch_dir;
  EtcdCoordinationClient* etcd_kv = nullptr;
  // Point-in-time recovery: the recorder's state (null when etcd-snapshot-incremental-interval
  // is 0: then neither status nor ls look for increments), and the private directory where a
  // restore to a moment runs its throwaway etcd.
  std::function<RecorderStatus()> increments;
  std::string point_in_time_work_dir;
};

class ApiRouter {
 public:
  explicit ApiRouter(ApiBackend backend) : backend_(std::move(backend)) {}
  // Bad input and failed use cases throw snapd::Error; the ControlServer answers them as
  // {"error": "...", "kind": "..."} with a status by kind (400, 404, 409, 5xx).
  ApiResponse Handle(const ApiRequest& request);

 private:
  ApiResponse Status();
  nlohmann::json DatastoreStatus() const;
  ApiResponse ListSnapshots(const ApiRequest& request);
  ApiResponse StartSave(const ApiRequest& request);
  ApiResponse GetJob(const std::string& id, const PeerCredentials& peer);
  ApiResponse CancelJob(const std::string& id);
  ApiResponse DeleteSnapshot(const std::string& name);
  ApiResponse DeleteSnapshots(const ApiRequest& request);
  ApiResponse Prune(const ApiRequest& request);
  ApiResponse StartVerify(const ApiRequest& request);
  ApiResponse StartRestore(const ApiRequest& request);
  // api_inspect.cc
  ApiResponse StartInspect(const ApiRequest& request);
  ApiResponse StartGet(const ApiRequest& request);
  ApiResponse StartDiff(const ApiRequest& request);
  ApiResponse StartUndelete(const ApiRequest& request);
  // A get job's values are shown only to whoever started it.
  bool MayReadJobResult(const JobState& job, const PeerCredentials& peer) const;
  ApiResponse Metrics();

  ApiBackend backend_;
  mutable std::mutex private_jobs_mutex_;
  std::map<uint64_t, uid_t> private_jobs_;  // get jobs: who started each
};

// The JSON form of a job, as GET /v1/jobs/{id} answers it.
nlohmann::json JobToJson(const JobState& job);

}  // namespace snapd
