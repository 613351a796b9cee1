// Everything k3s-snapd builds from one Config (etcd client, stores, use cases, schedule, API
// routes), so SIGHUP can build a new one beside the old and swap only when it is valid.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "backup/job_runner.h"
#include "backup/scheduler.h"
#include "backup/snapshot_service.h"
#include "backup/store_health.h"
#include "config/config.h"
#include "control/api_router.h"
#include "etcd/gateway_etcd_client.h"
#include "etcd/grpc_etcd_client.h"
#include "metrics/snapshot_metrics.h"
#include "schedule/cron_schedule.h"
#include "store/local_store.h"
#include "store/s3_store.h"

namespace snapd {

class DaemonRuntime : public std::enable_shared_from_this<DaemonRuntime> {
 public:
  // Checks what the config layer cannot (cron spec, TLS files, S3 settings) and builds the
  // parts without touching etcd, S3 or the snapshot dir. Throws Error::InvalidInput naming the
  // file or flag and key. `stopping` cancels S3 transfers at shutdown.
  static std::shared_ptr<DaemonRuntime> Build(const Config& config, JobRunner& jobs,
                                              const Clock& clock, const std::atomic<bool>* stopping,
                                              SnapshotMetrics& metrics);
  ~DaemonRuntime();

  // Prepares the snapshot dir, removes leftovers of interrupted saves, starts the S3 health
  // checks and the schedule.
  void Start();
  // Stops the schedule and health checks; waits for neither jobs nor requests.
  void Stop();

  ApiResponse Handle(const ApiRequest& request) { return router_->Handle(request); }
  const Config& config() const { return config_; }
  EtcdClient& etcd() { return *etcd_; }

 private:
  DaemonRuntime(const Config& config, JobRunner& jobs, const Clock& clock, SnapshotMetrics& metrics)
      : config_(config), jobs_(jobs), clock_(clock), metrics_(metrics) {}

  Config config_;
  JobRunner& jobs_;
  const Clock& clock_;
  SnapshotMetrics& metrics_;
  std::optional<CronSchedule> schedule_;
  std::unique_ptr<EtcdClient> etcd_;
  std::unique_ptr<StoreHealth> etcd_health_;  // probes etcd for k3s_snapd_etcd_up
  std::unique_ptr<LocalStore> local_;
  std::unique_ptr<S3Store> s3_;
  std::unique_ptr<StoreHealth> s3_health_;
  std::unique_ptr<SnapshotService> service_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ApiRouter> router_;
};

}  // namespace snapd
