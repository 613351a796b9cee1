// BuildPointInTime: the base in a throwaway etcd, the recorded revisions replayed into it one
// transaction each (its leases kept alive meanwhile), its snapshot written and hashed twice.
#include "incremental/point_in_time.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/file_descriptor.h"
#include "etcd/grpc_etcd_client.h"
#include "incremental/throwaway_etcd.h"
#include "inspect/snapshot_contents.h"
#include "snapshot/snapshot_integrity.h"

namespace snapd {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(30);
constexpr auto kHashTimeout = std::chrono::seconds(120);  // etcd hashes its whole key bucket

// Keeps every lease of the throwaway alive until destroyed: one expiring there would delete
// keys and add revisions the original never had. Renews every third of the shortest TTL seen,
// at most a second apart.
class LeaseKeeper {
 public:
  explicit LeaseKeeper(const std::string& url)
      : client_(EtcdEndpoint{url, {}, std::chrono::seconds(60)}) {}
  ~LeaseKeeper() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  bool Known(int64_t id) {
    std::lock_guard lock(mutex_);
    return ids_.count(id) != 0;
  }
  void Add(int64_t id) {
    std::lock_guard lock(mutex_);
    ids_.insert(id);
  }
  // The last renewal failure, for a divergence's error ("" when none).
  std::string failure() {
    std::lock_guard lock(mutex_);
    return failure_;
  }

 private:
  void Run() {
    std::unique_lock lock(mutex_);
    auto interval = std::chrono::milliseconds(1000);
    while (!wake_.wait_for(lock, interval, [this] { return stop_; })) {
      const std::set<int64_t> ids = ids_;
      lock.unlock();
      int64_t shortest = 3;
      std::set<int64_t> gone;
      std::string failure;
      for (int64_t id : ids) {
        try {
          const int64_t ttl = client_.LeaseKeepAliveOnce(id, kCallTimeout);
          if (ttl <= 0) gone.insert(id);  // granted again if a later put names it
          if (ttl > 0) shortest = std::min(shortest, ttl);
        } catch (const std::exception& e) {
          failure = "keeping lease " + std::to_string(id) + " alive failed: " + e.what();
        }
      }
      lock.lock();
      for (int64_t id : gone) ids_.erase(id);
      if (!failure.empty()) failure_ = failure;
      interval = std::chrono::milliseconds(std::max<int64_t>(100, shortest * 1000 / 3));
    }
  }

  GrpcEtcdClient client_;  // its own: calls from this thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::set<int64_t> ids_;
  std::string failure_;
  std::thread thread_;
};

// The snapshot stream into a private file, its SHA-256 trailer checked as it passes.
class CheckedFileSink final : public ByteSink {
 public:
  explicit CheckedFileSink(std::string path) : path_(std::move(path)) {
    fd_.Reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd_.get() < 0) ThrowSystemError("create " + path_, errno);
    if (::fchmod(fd_.get(), 0600) != 0) ThrowSystemError("chmod " + path_, errno);
  }
  void Write(std::string_view chunk) override {
    integrity_.Write(chunk);
    WriteAll(fd_.get(), chunk, path_);
  }
  SnapshotDigest Finish() {
    if (::fsync(fd_.get()) != 0) ThrowSystemError("fsync " + path_, errno);
    fd_.Close(path_);
    return integrity_.Finish();
  }

 private:
  std::string path_;
  FileDescriptor fd_;
  SnapshotIntegrity integrity_;
};

// Removes the output unless the build got to the end.
struct OutputGuard {
  const std::string& path;
  bool keep = false;
  ~OutputGuard() {
    if (!keep) ::unlink(path.c_str());
  }
};

struct Replayed {
  int64_t revision = 0;
  int64_t count = 0;
  int64_t last_received_unix_ms = 0;
};

Replayed Replay(const PointInTimeOptions& options, const ReplayTarget& target,
                const RevisionFeed& feed, const std::atomic<bool>* cancel, EtcdReplayClient& etcd,
                LeaseKeeper& leases) {
  Replayed done;
  done.revision = options.base_revision;
  std::vector<RecordedRevision> batch;
  for (bool beyond = false; !beyond;) {
    batch.clear();
    if (!feed(batch)) break;
    for (const RecordedRevision& recorded : batch) {
      if (cancel != nullptr && cancel->load()) {
        throw Error::Cancelled("point-in-time replay cancelled at revision " +
                               std::to_string(done.revision));
      }
      if (!WithinTarget(target, recorded)) {
        beyond = true;
        break;
      }
      // etcd's events carry a put's lease id but not its TTL: the lease is made again with it.
      for (const EtcdEvent& event : recorded.events) {
        const int64_t lease = event.kv.lease;
        if (event.is_delete || lease == 0 || leases.Known(lease)) continue;
        etcd.LeaseGrantWithId(lease, options.lease_ttl_seconds, kCallTimeout);
        leases.Add(lease);
      }
      const int64_t got = etcd.ApplyRevision(recorded.events, kCallTimeout);
      if (got != recorded.revision) {
        const std::string lease_failure = leases.failure();
        throw Error::Corrupt("replay diverged at revision " + std::to_string(recorded.revision) +
                             ": etcd gave " + std::to_string(got) +
                             (lease_failure.empty() ? "" : " (" + lease_failure + ")"));
      }
      done.revision = got;
      ++done.count;
      done.last_received_unix_ms = recorded.received_unix_ms;
    }
  }
  return done;
}

}  // namespace

PointInTimeResult BuildPointInTime(const PointInTimeOptions& options, const ReplayTarget& target,
                                   const RevisionFeed& feed, const std::atomic<bool>* cancel,
                                   const std::function<void(const std::string&)>& log) {
  if (options.base_path.empty() || options.work_dir.empty() || options.output_path.empty()) {
    throw Error::InvalidInput("point-in-time replay needs a base, a work dir and an output path");
  }
  if (target.revision && *target.revision < options.base_revision) {
    throw Error::InvalidInput("revision " + std::to_string(*target.revision) +
                              " is before the base's revision " +
                              std::to_string(options.base_revision));
  }
  ThrowawayEtcd throwaway(ThrowawayEtcdOptions{options.base_path, options.work_dir,
                                               options.etcd_binary, options.restore_tool});
  throwaway.Start(log);
  GrpcEtcdClient etcd(EtcdEndpoint{throwaway.url(), {}, std::chrono::seconds(60)});
  const int64_t restored = etcd.ProbeRevision(0, kCallTimeout).current_revision;
  if (restored != options.base_revision) {
    throw Error::Corrupt("base snapshot is at revision " + std::to_string(restored) +
                         ", expected " + std::to_string(options.base_revision));
  }

  OutputGuard output{options.output_path};
  PointInTimeResult result;
  {
    LeaseKeeper leases(throwaway.url());
    for (int64_t id : etcd.LeaseIds(kCallTimeout)) leases.Add(id);
    leases.Start();

    const auto started = std::chrono::steady_clock::now();
    const Replayed replayed = Replay(options, target, feed, cancel, etcd, leases);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (target.revision && replayed.revision < *target.revision) {
      throw Error::InvalidInput("the increments reach revision " +
                                std::to_string(replayed.revision) + ", not " +
                                DescribeTarget(target));
    }
    char pace[64];
    std::snprintf(pace, sizeof(pace), " in %.2f s (%.0f revisions/s)", seconds,
                  seconds > 0 ? static_cast<double>(replayed.count) / seconds : 0.0);
    log("replayed " + std::to_string(replayed.count) + " revisions to revision " +
        std::to_string(replayed.revision) + pace);
    result.revision = replayed.revision;
    result.replayed = replayed.count;
    result.last_received_unix_ms = replayed.last_received_unix_ms;

    CheckedFileSink sink(options.output_path);
    etcd.Snapshot(sink, cancel, {});
    result.size = sink.Finish().size;
  }

  result.hash_kv = etcd.HashKV(result.revision, kHashTimeout);
  const std::unique_ptr<SnapshotContents> contents = OpenSnapshotContents(options.output_path);
  if (contents->revision() != result.revision) {
    throw Error::Corrupt("the private etcd's snapshot is at revision " +
                         std::to_string(contents->revision()) + ", not the target's " +
                         std::to_string(result.revision));
  }
  const std::optional<KvHash> written = contents->HashKV(result.revision);
  if (!written || written->hash != result.hash_kv.hash) {
    throw Error::Corrupt("the snapshot's HashKV at revision " + std::to_string(result.revision) +
                         " is " + (written ? std::to_string(written->hash) : "missing") +
                         " but the private etcd's is " + std::to_string(result.hash_kv.hash));
  }
  log("snapshot at revision " + std::to_string(result.revision) + ": " +
      std::to_string(result.size) + " bytes, HashKV " + std::to_string(result.hash_kv.hash));
  output.keep = true;
  return result;
}

}  // namespace snapd
