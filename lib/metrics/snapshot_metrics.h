// The metrics k3s-snapd exports on GET /metrics: what SnapshotService records as it saves,
// deletes and prunes, and values the daemon supplies that are read at each scrape.
// Outlives configuration reloads, so counters keep rising across them. Labels are only store
// kinds and results: nothing secret can appear.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "metrics/metrics_registry.h"

namespace snapd {

struct S3RequestCounts {
  uint64_t requests = 0;  // HTTP requests sent, retries included
  uint64_t retries = 0;   // requests repeated after a transient failure
};

class SnapshotMetrics {
 public:
  // Upper bounds of k3s_snapd_snapshot_duration_seconds: 0.1 s to 1 h.
  static const std::vector<double>& DurationBuckets();

  // `process_start` is exported as process_start_time_seconds.
  explicit SnapshotMetrics(SystemTime process_start);

  // --- Recorded by SnapshotService.
  // The configured stores: their per-store series exist from now on (at 0), and stored counts
  // of stores no longer configured are dropped.
  void UseStorages(const std::vector<std::string>& storages);
  // One store's part of one save: it holds the snapshot or it does not.
  void StoreSaveResult(const std::string& storage, bool stored);
  // A save that reached every store, finished at `finished`.
  void SaveSucceeded(SystemTime finished, std::chrono::duration<double> took, uint64_t size);
  // A save that failed in at least one store (partly stored ones included).
  void SaveFailed(SystemTime finished);
  // A good snapshot found at start (made before this process): raises the last success time
  // to `created` if that is later, so a restart does not look like "no snapshot ever".
  void NoteEarlierSuccess(SystemTime created);
  void SetStoredSnapshots(const std::string& storage, size_t ready);
  // A scheduled run's S3 upload claimed in etcd (several servers): `result` is "won" (this
  // server uploads it), "lost" (another does) or "taken-over" (won after its holder gave up).
  void UploadClaim(const std::string& result);

  // --- Supplied by the daemon, read at each scrape: each must be quick and do no I/O.
  // Until set, the metric is left out. Replaceable at any time (a reload builds new parts).
  void SetEtcdUp(std::function<bool()> up);
  void SetJobRunning(std::function<bool()> running);
  // Adds a source of S3 request counts that starts at 0 and only rises (one S3 store's
  // counters). The exported counters are the sum over every source ever added, so they keep
  // rising when a reload replaces the store. A source must stay callable for the life of
  // this object: capture the counters themselves, not the store.
  void AddS3RequestSource(std::function<S3RequestCounts()> counts);

  // Each store's point-in-time lag in seconds (k3s_snapd_incremental_lag_seconds{storage}),
  // read at each scrape; null: no series.
  void SetIncrementalLag(std::function<std::vector<std::pair<std::string, double>>()> lag);

  std::string Render() const;

 private:
  S3RequestCounts SumS3Requests() const;

  MetricsRegistry registry_;
  Gauge& last_success_;
  Gauge& last_failure_;
  Counter& snapshots_;
  Histogram& duration_;
  Gauge& size_;
  Gauge& stored_;
  Counter& upload_claims_;
  Gauge& incremental_lag_;

  std::mutex success_mutex_;  // orders updates of last_success_
  mutable std::mutex mutex_;  // guards the sources below
  std::function<bool()> etcd_up_;
  std::function<bool()> job_running_;
  std::vector<std::function<S3RequestCounts()>> s3_sources_;
  std::function<std::vector<std::pair<std::string, double>>()> incremental_lag_source_;
};

}  // namespace snapd
