// The one-job-at-a-time runner.
#include "backup/job_runner.h"

#include <algorithm>

#include <chrono>

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace snapd {
namespace {

constexpr size_t kJobsKept = 100;

}  // namespace

void JobContext::SetSnapshot(const std::string& name) {
  runner_.Update(id_, [&](JobState& s) { s.snapshot = name; });
}

void JobContext::AddBytes(uint64_t n) {
  runner_.Update(id_, [&](JobState& s) { s.bytes += n; });
}

void JobContext::SetTotal(uint64_t n) {
  runner_.Update(id_, [&](JobState& s) { s.total = n; });
}

void JobContext::AddRecord(const SnapshotRecord& record) {
  runner_.Update(id_, [&](JobState& s) { s.records.push_back(record); });
}

void JobContext::SetResult(nlohmann::json result) {
  runner_.Update(id_, [&](JobState& s) { s.result = std::move(result); });
}

JobRunner::~JobRunner() {
  Shutdown();
}

uint64_t JobRunner::Begin(const std::string& kind) {
  std::unique_lock lock(mutex_);
  if (shut_down_) throw Error::Cancelled("k3s-snapd is shutting down");
  // A verify (or an inspect, get or diff) only reads: a save must not wait for it (nor be skipped
  // because of it, which would let anyone allowed to read hold off the schedule). It is
  // cancelled and the save goes on.
  const bool is_save =
      std::find(kSaveJobKinds.begin(), kSaveJobKinds.end(), kind) != kSaveJobKinds.end();
  if (running_ && is_save &&
      std::find(kReadJobKinds.begin(), kReadJobKinds.end(), Find(*running_)->kind) !=
          kReadJobKinds.end()) {
    spdlog::info("cancelling {} job {}: a {} takes precedence", Find(*running_)->kind, *running_,
                 kind);
    cancel_ = true;
    changed_.wait_for(lock, std::chrono::seconds(30), [this] { return !running_; });
  }
  if (running_) {
    const JobState* job = Find(*running_);
    std::string what = job->kind + " job " + std::to_string(job->id);
    if (!job->snapshot.empty()) what += " (" + job->snapshot + ")";
    throw Error::Conflict("another job is running: " + what + "; try again when it is done");
  }
  JobState job;
  job.id = next_id_++;
  job.kind = kind;
  job.started_at = UnixSeconds(clock_.Now());
  jobs_.push_back(job);
  while (jobs_.size() > kJobsKept) jobs_.pop_front();
  running_ = job.id;
  cancel_ = false;
  cancel_requested_ = false;
  return job.id;
}

void JobRunner::Finish(uint64_t id, const std::string& error) {
  std::string kind;
  {
    std::lock_guard lock(mutex_);
    if (JobState* job = Find(id)) {
      job->state = error.empty() ? "succeeded" : "failed";
      // A job that ended anyway (it was past its last cancel check) keeps its own outcome.
      job->error = cancel_requested_ && !error.empty() ? "cancelled on request: " + error : error;
      job->finished_at = UnixSeconds(clock_.Now());
      kind = job->kind;
    }
    running_.reset();
  }
  changed_.notify_all();
  // The log is where an operator looks first: a failed job (a scheduled save above all, which
  // no client waits for) must say why there, not only in status.
  if (!error.empty()) spdlog::error("{} job {} failed: {}", kind.empty() ? "a" : kind, id, error);
}

uint64_t JobRunner::Start(const std::string& kind, Work work) {
  uint64_t id = Begin(kind);
  std::lock_guard thread_lock(thread_mutex_);
  // A Shutdown that ran between Begin and here has already joined: it would not wait for a
  // thread started now.
  bool shutting_down;
  {
    std::lock_guard lock(mutex_);
    shutting_down = shut_down_;
  }
  if (shutting_down) {
    Finish(id, "k3s-snapd is shutting down");
    throw Error::Cancelled("k3s-snapd is shutting down");
  }
  // The previous job's thread has finished its work (the slot was free); reap it.
  if (thread_.joinable()) thread_.join();
  try {
    thread_ = std::thread([this, id, work = std::move(work)] {
      JobContext context(*this, id, &cancel_);
      std::string error;
      try {
        work(context);
      } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "unknown error";
      } catch (...) {
        error = "unknown error";  // an escaping non-std exception would terminate the daemon
      }
      Finish(id, error);
    });
  } catch (const std::exception& e) {
    // No thread, so nobody else would free the slot.
    Finish(id, std::string("could not start the job thread: ") + e.what());
    throw;
  }
  return id;
}

JobState JobRunner::Run(const std::string& kind, const Work& work) {
  uint64_t id = Begin(kind);
  JobContext context(*this, id, &cancel_);
  try {
    work(context);
  } catch (const std::exception& e) {
    Finish(id, *e.what() ? e.what() : "unknown error");
    throw;
  } catch (...) {
    Finish(id, "unknown error");  // the slot must be freed whatever was thrown
    throw;
  }
  Finish(id, "");
  return *Get(id);
}

std::optional<JobState> JobRunner::Get(uint64_t id) const {
  std::lock_guard lock(mutex_);
  for (const JobState& job : jobs_) {
    if (job.id == id) return job;
  }
  return std::nullopt;
}

std::optional<JobState> JobRunner::Running() const {
  std::lock_guard lock(mutex_);
  if (!running_) return std::nullopt;
  for (const JobState& job : jobs_) {
    if (job.id == *running_) return job;
  }
  return std::nullopt;
}

std::optional<JobState> JobRunner::LastFinished(const std::vector<std::string>& kinds,
                                                const std::string& state) const {
  std::lock_guard lock(mutex_);
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
    if (it->state != state) continue;
    for (const std::string& kind : kinds) {
      if (it->kind == kind) return *it;
    }
  }
  return std::nullopt;
}

std::optional<JobState> JobRunner::Wait(uint64_t id, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return running_ != id; });
  for (const JobState& job : jobs_) {
    if (job.id == id) return job;
  }
  return std::nullopt;
}

JobState JobRunner::Cancel(uint64_t id) {
  std::lock_guard lock(mutex_);
  const JobState* job = Find(id);
  if (job == nullptr) {
    throw Error::NotFound("job " + std::to_string(id) + " not found (only recent jobs are kept)");
  }
  if (running_ != id) {
    throw Error::Conflict("job " + std::to_string(id) + " has already " + job->state);
  }
  spdlog::info("cancelling {} job {} on request", job->kind, id);
  cancel_requested_ = true;
  cancel_ = true;
  return *job;
}

void JobRunner::Shutdown() {
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    cancel_ = true;
  }
  std::lock_guard thread_lock(thread_mutex_);
  if (thread_.joinable()) thread_.join();
}

JobState* JobRunner::Find(uint64_t id) {
  for (JobState& job : jobs_) {
    if (job.id == id) return &job;
  }
  return nullptr;
}

void JobRunner::Update(uint64_t id, const std::function<void(JobState&)>& change) {
  std::lock_guard lock(mutex_);
  if (JobState* job = Find(id)) change(*job);
}

}  // namespace snapd
