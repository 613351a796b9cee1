// Runs one piece of upkeep (a sweep of leftovers, S3 recovery) on a thread of its own: at once
// and then every `interval`, until stopped, so slow or unreachable storage never holds up the
// daemon. A failure is logged and the next run tries again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace snapd {

class PeriodicTask {
 public:
  // `name` says what it does in the log ("S3 cleanup"). `run` throws to report a failure.
  PeriodicTask(std::string name, std::function<void()> run, std::chrono::seconds interval);
  ~PeriodicTask();  // Stop()
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  // Starts the thread; the first run begins after `first_delay`.
  void Start(std::chrono::seconds first_delay = std::chrono::seconds(0));
  // Wakes the thread early and waits for it: a run under way finishes first, so make `run`
  // cancellable when it can be slow. Repeatable.
  void Stop();
  // How many runs have finished (for tests and status).
  int runs() const;

 private:
  std::string name_;
  std::function<void()> run_;
  std::chrono::seconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  int runs_ = 0;
  std::thread thread_;
};

}  // namespace snapd
