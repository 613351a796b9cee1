// ForEachInParallel on std::thread and an atomic next-item counter.
#include "s3/s3_parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace snapd {

void ForEachInParallel(const S3Client& prototype, size_t count, int concurrency,
                       const std::function<void(S3Client& client, size_t index)>& work) {
  if (count == 0) return;
  const size_t threads = std::min<size_t>(count, static_cast<size_t>(std::max(concurrency, 1)));
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto run = [&] {
    try {
      std::unique_ptr<S3Client> client = prototype.Clone();
      for (size_t i = next++; i < count && !failed.load(); i = next++) work(*client, i);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  if (threads == 1) {
    run();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(run);
    for (std::thread& thread : pool) thread.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace snapd
