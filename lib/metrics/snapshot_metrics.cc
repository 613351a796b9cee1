// k3s-snapd's metric families, their names and help texts.
#include "metrics/snapshot_metrics.h"

#include <algorithm>

namespace snapd {
namespace {

// Whole and fractional seconds apart: one multiplication of the nanosecond count by 1e-9 would
// turn 0.25 s into 0.2499998.
double FractionalUnixSeconds(SystemTime t) {
  auto whole = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch());
  auto fraction =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch() - whole);
  return static_cast<double>(whole.count()) + static_cast<double>(fraction.count()) / 1e9;
}

}  // namespace

const std::vector<double>& SnapshotMetrics::DurationBuckets() {
  static const std::vector<double> buckets = {0.1, 0.25, 0.5, 1,   2.5,  5,    10,  30,
                                              60,  120,  300, 600, 1200, 1800, 3600};
  return buckets;
}

SnapshotMetrics::SnapshotMetrics(SystemTime process_start)
    : last_success_(registry_.AddGauge(
          "k3s_snapd_snapshot_last_success_timestamp_seconds",
          "Unix time the last snapshot stored in every configured store finished (0: none "
          "since start).")),
      last_failure_(registry_.AddGauge(
          "k3s_snapd_snapshot_last_failure_timestamp_seconds",
          "Unix time the last snapshot that failed in any store finished (0: none since start).")),
      snapshots_(registry_.AddCounter(
          "k3s_snapd_snapshots_total",
          "Snapshot saves per store, by result (success: the store holds the snapshot).",
          {"storage", "result"})),
      duration_(registry_.AddHistogram(
          "k3s_snapd_snapshot_duration_seconds",
          "Duration of snapshot saves that reached every store, from start to last commit.",
          DurationBuckets())),
      size_(registry_.AddGauge("k3s_snapd_snapshot_size_bytes",
                               "Size of the last successful snapshot (0: none since start).")),
      stored_(registry_.AddGauge("k3s_snapd_stored_snapshots",
                                 "Ready snapshots per store, as of the last save, delete, "
                                 "prune or start.",
                                 {"storage"})),
      upload_claims_(registry_.AddCounter(
          "k3s_snapd_upload_claims_total",
          "Scheduled runs whose S3 upload several servers raced for in etcd, by result (won: "
          "this server uploaded it; lost: another did; taken-over: won after the holder gave "
          "up).",
          {"result"})),
      incremental_lag_(registry_.AddGauge(
          "k3s_snapd_incremental_lag_seconds",
          "How far behind now each store's chain of increments is known complete (point-in-time "
          "recovery; an idle cluster is confirmed complete at each interval).",
          {"storage"})) {
  registry_.AddCounterFunction(
      "k3s_snapd_s3_requests_total", "HTTP requests sent to S3, retries included.",
      [this]() -> std::optional<double> { return static_cast<double>(SumS3Requests().requests); });
  registry_.AddCounterFunction(
      "k3s_snapd_s3_request_retries_total", "S3 requests repeated after a transient failure.",
      [this]() -> std::optional<double> { return static_cast<double>(SumS3Requests().retries); });
  registry_.AddGaugeFunction("k3s_snapd_etcd_up",
                             "1 when the last etcd status probe succeeded, else 0.",
                             [this]() -> std::optional<double> {
                               std::function<bool()> up;
                               {
                                 std::lock_guard lock(mutex_);
                                 up = etcd_up_;
                               }
                               if (!up) return std::nullopt;
                               return up() ? 1 : 0;
                             });
  registry_.AddGaugeFunction("k3s_snapd_job_running", "1 while a job (save, delete, prune) runs.",
                             [this]() -> std::optional<double> {
                               std::function<bool()> running;
                               {
                                 std::lock_guard lock(mutex_);
                                 running = job_running_;
                               }
                               if (!running) return std::nullopt;
                               return running() ? 1 : 0;
                             });
  registry_.AddGauge("process_start_time_seconds", "Start time of the process since unix epoch.")
      .Set(FractionalUnixSeconds(process_start));
  last_success_.Set(0);
  last_failure_.Set(0);
  size_.Set(0);
}

void SnapshotMetrics::UseStorages(const std::vector<std::string>& storages) {
  for (const std::string& storage : storages) {
    snapshots_.Touch({storage, "success"});
    snapshots_.Touch({storage, "failure"});
  }
  stored_.RemoveIf([&](const LabelValues& labels) {
    return std::find(storages.begin(), storages.end(), labels[0]) == storages.end();
  });
}

void SnapshotMetrics::StoreSaveResult(const std::string& storage, bool stored) {
  snapshots_.Increment({storage, stored ? "success" : "failure"});
}

void SnapshotMetrics::SaveSucceeded(SystemTime finished, std::chrono::duration<double> took,
                                    uint64_t size) {
  duration_.Observe(took.count());
  size_.Set(static_cast<double>(size));
  std::lock_guard lock(success_mutex_);
  last_success_.Set(FractionalUnixSeconds(finished));
}

void SnapshotMetrics::NoteEarlierSuccess(SystemTime created) {
  std::lock_guard lock(success_mutex_);
  double t = FractionalUnixSeconds(created);
  if (t > last_success_.Value().value_or(0)) last_success_.Set(t);
}

void SnapshotMetrics::SaveFailed(SystemTime finished) {
  last_failure_.Set(FractionalUnixSeconds(finished));
}

void SnapshotMetrics::SetStoredSnapshots(const std::string& storage, size_t ready) {
  stored_.Set({storage}, static_cast<double>(ready));
}

void SnapshotMetrics::SetIncrementalLag(
    std::function<std::vector<std::pair<std::string, double>>()> lag) {
  std::lock_guard lock(mutex_);
  incremental_lag_source_ = std::move(lag);
}

std::string SnapshotMetrics::Render() const {
  std::function<std::vector<std::pair<std::string, double>>()> lag;
  {
    std::lock_guard lock(mutex_);
    lag = incremental_lag_source_;
  }
  // Lag grows between the recorder's writes: read it now, not at its last write.
  incremental_lag_.RemoveIf([](const LabelValues&) { return true; });
  if (lag) {
    for (const auto& [storage, seconds] : lag()) incremental_lag_.Set({storage}, seconds);
  }
  return registry_.Render();
}

void SnapshotMetrics::SetEtcdUp(std::function<bool()> up) {
  std::lock_guard lock(mutex_);
  etcd_up_ = std::move(up);
}

void SnapshotMetrics::SetJobRunning(std::function<bool()> running) {
  std::lock_guard lock(mutex_);
  job_running_ = std::move(running);
}

void SnapshotMetrics::AddS3RequestSource(std::function<S3RequestCounts()> counts) {
  if (!counts) return;
  std::lock_guard lock(mutex_);
  s3_sources_.push_back(std::move(counts));
}

S3RequestCounts SnapshotMetrics::SumS3Requests() const {
  std::vector<std::function<S3RequestCounts()>> sources;
  {
    std::lock_guard lock(mutex_);
    sources = s3_sources_;
  }
  S3RequestCounts sum;
  for (const auto& source : sources) {
    S3RequestCounts counts = source();
    sum.requests += counts.requests;
    sum.retries += counts.retries;
  }
  return sum;
}

void SnapshotMetrics::UploadClaim(const std::string& result) {
  upload_claims_.Increment({result});
}

}  // namespace snapd
