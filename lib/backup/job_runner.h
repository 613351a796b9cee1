// Runs k3s-snapd's jobs one at a time: a save, delete or prune while another job runs is
// refused with kConflict naming the running job, never interleaved (k3s #10371 corrupted
// snapshots that way). A save cancels a running verify instead of waiting for it. Keeps the recent
// jobs' states for `snapctl` to poll.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "snapshot/snapshot_record.h"

namespace snapd {

// The job kinds that take a snapshot: status, systemd STATUS= and metrics report on these.
inline const std::vector<std::string> kSaveJobKinds = {"save", "scheduled-save"};
// The job kinds that only read snapshots: a save cancels them rather than wait.
inline const std::vector<std::string> kReadJobKinds = {"verify", "inspect", "get", "diff"};

struct JobState {
  uint64_t id = 0;
  std::string kind;  // "save", "scheduled-save", "delete", "prune", "verify", "restore", ...
  std::string state = "running";  // "running", "succeeded", "failed"
  std::string snapshot;           // the snapshot's name once known
  std::string error;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  uint64_t bytes = 0;                   // bytes streamed so far
  uint64_t total = 0;                   // bytes the stream will have in all; 0 while unknown
  std::vector<SnapshotRecord> records;  // what a save stored, one per store
  nlohmann::json result;                // what a verify or restore found; null otherwise
};

// What a running job sees: its cancel flag and a place to report progress and results.
class JobContext {
 public:
  const std::atomic<bool>* cancel() const { return cancel_; }
  uint64_t id() const { return id_; }
  void SetSnapshot(const std::string& name);
  void AddBytes(uint64_t n);
  void SetTotal(uint64_t n);
  void AddRecord(const SnapshotRecord& record);
  void SetResult(nlohmann::json result);

 private:
  friend class JobRunner;
  JobContext(class JobRunner& runner, uint64_t id, const std::atomic<bool>* cancel)
      : runner_(runner), id_(id), cancel_(cancel) {}
  JobRunner& runner_;
  uint64_t id_;
  const std::atomic<bool>* cancel_;
};

class JobRunner {
 public:
  using Work = std::function<void(JobContext&)>;

  explicit JobRunner(const Clock& clock) : clock_(clock) {}
  ~JobRunner();

  // Starts `work` on the job thread and returns its id; throws kConflict while a job runs.
  // A job that throws ends "failed" with the error's message, else "succeeded".
  uint64_t Start(const std::string& kind, Work work);
  // Runs `work` on the calling thread holding the job slot; kConflict while a job runs.
  // Returns the finished state; an exception of `work` is recorded, then rethrown.
  JobState Run(const std::string& kind, const Work& work);

  std::optional<JobState> Get(uint64_t id) const;
  std::optional<JobState> Running() const;
  // The most recent finished job of `kinds` that ended in `state`.
  std::optional<JobState> LastFinished(const std::vector<std::string>& kinds,
                                       const std::string& state) const;
  // Blocks until job `id` is no longer running (or `timeout` passes); returns its state.
  std::optional<JobState> Wait(uint64_t id, std::chrono::milliseconds timeout) const;

  // Asks job `id` to stop (at its next chunk or retry wait; a save then leaves nothing
  // behind in any store) and returns its state at once. kNotFound for an unknown job,
  // kConflict for one that has already finished.
  JobState Cancel(uint64_t id);

  // Asks the running job to stop and waits for it. Afterwards Start refuses new jobs.
  void Shutdown();

 private:
  friend class JobContext;
  uint64_t Begin(const std::string& kind);  // takes the slot; caller holds no lock
  void Finish(uint64_t id, const std::string& error);
  JobState* Find(uint64_t id);
  void Update(uint64_t id, const std::function<void(JobState&)>& change);

  const Clock& clock_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<JobState> jobs_;  // recent jobs, newest last
  std::optional<uint64_t> running_;
  uint64_t next_id_ = 1;
  bool shut_down_ = false;
  std::atomic<bool> cancel_{false};
  bool cancel_requested_ = false;  // by Cancel, for the running job: its error says so
  std::mutex thread_mutex_;        // guards thread_ (Start and Shutdown may race)
  std::thread thread_;
};

}  // namespace snapd
