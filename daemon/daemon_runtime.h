// Everything k3s-snapd builds from one Config (etcd client, stores, use cases, schedule, API
// routes, upkeep of leftovers), so SIGHUP can build a new one beside the old and swap only when
// it is valid.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "backup/job_runner.h"
#include "backup/periodic_task.h"
#include "backup/scheduler.h"
#include "backup/snapshot_service.h"
#include "backup/store_health.h"
#include "config/config.h"
#include "control/api_router.h"
#include "datastore/datastore_endpoint.h"
#include "datastore/etcd_datastore.h"
#include "datastore/sqlite_datastore.h"
#include "etcd/gateway_etcd_client.h"
#include "etcd/grpc_etcd_client.h"
#include "incremental/increment_recorder.h"
#include "metrics/snapshot_metrics.h"
#include "schedule/cron_schedule.h"
#include "store/journal_dir.h"
#include "store/local_store.h"
#include "store/s3_store.h"
#include "store/upload_journal.h"

namespace snapd {

class DaemonRuntime : public std::enable_shared_from_this<DaemonRuntime> {
 public:
  // Checks what the config layer cannot (cron spec, TLS files, S3 settings) and builds the
  // parts without touching etcd, S3, the snapshot dir or the state dir (which the caller locks
  // before Start). Throws Error::InvalidInput naming the file or flag and key.
  static std::shared_ptr<DaemonRuntime> Build(const Config& config, JobRunner& jobs,
                                              const Clock& clock, SnapshotMetrics& metrics);
  ~DaemonRuntime();

  // Prepares the snapshot dir and removes the local leftovers of interrupted saves, then
  // starts the schedule, the health checks and the upkeep: local leftovers every minute; in
  // the background at once and then every 10 minutes, S3's (journaled uploads of an earlier
  // process first). Nothing here waits for S3.
  void Start();
  // Stops the schedule, health checks and upkeep, cancelling every S3 request of this runtime
  // (a running save's too: at shutdown the job runner then cancels the save); waits for
  // neither jobs nor requests. A reload calls it while no job runs.
  void Stop();

  ApiResponse Handle(const ApiRequest& request) { return router_->Handle(request); }
  const Config& config() const { return config_; }
  EtcdClient& etcd() { return *etcd_; }
  // False when snapshots are taken from SQLite (etcd is then not used at all).
  bool SavesFromEtcd() const { return datastore_->Kind() == "etcd"; }

 private:
  DaemonRuntime(const Config& config, JobRunner& jobs, SnapshotMetrics& metrics)
      : config_(config), jobs_(jobs), metrics_(metrics) {}

  Config config_;
  JobRunner& jobs_;
  SnapshotMetrics& metrics_;
  std::optional<CronSchedule> schedule_;
  // Set by Stop: cancels this runtime's S3 requests, so a reload or stop never waits for them.
  std::atomic<bool> s3_cancel_{false};
  std::unique_ptr<EtcdClient> etcd_;
  EtcdCoordinationClient* etcd_kv_ = nullptr;      // etcd_'s key-value and lease calls
  std::unique_ptr<Datastore> datastore_;           // what service_ saves; reads etcd_ when etcd
  std::string scheduled_prefix_;                   // of this datastore's scheduled snapshots
  std::unique_ptr<StoreHealth> etcd_health_;       // probes etcd for k3s_snapd_etcd_up
  std::unique_ptr<JournalDir> part_journal_;       // <state-dir>/local-saves
  std::unique_ptr<UploadJournal> upload_journal_;  // <state-dir>/uploads
  std::unique_ptr<LocalStore> local_;
  std::unique_ptr<S3Store> s3_;
  std::unique_ptr<StoreHealth> s3_health_;
  std::unique_ptr<UploadCoordinator> upload_coordinator_;  // one-server uploads; else null
  std::unique_ptr<SnapshotService> service_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ApiRouter> router_;
  std::unique_ptr<PeriodicTask> local_upkeep_;
  std::unique_ptr<PeriodicTask> s3_upkeep_;
  std::unique_ptr<PeriodicTask> upload_followup_;  // with upload_coordinator_
  // With etcd-snapshot-incremental-interval: the chain of increments behind the newest base.
  std::unique_ptr<IncrementRecorder> recorder_;
};

}  // namespace snapd
