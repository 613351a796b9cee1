// Keeps a chain of increments behind the newest full snapshot: watches etcd from the base's
// revision + 1 and, each interval (sooner when its buffer fills), writes what arrived as one
// increment to every store holding the base. A watch that cannot go on, or a compaction past the
// base, ends the chain and asks for a new base at once: a chain never has a gap.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcd_watch.h"
#include "incremental/increment_codec.h"
#include "incremental/increment_format.h"
#include "store/snapshot_store.h"

namespace snapd {

// The full snapshot a chain continues.
struct ChainBase {
  std::string name;  // as stored (with its suffixes)
  int64_t revision = 0;
  int64_t compact_revision = 0;  // etcd's compact revision at the base; 0 when never compacted
  int64_t created_unix = 0;
  std::vector<SnapshotStore*> stores;  // those holding it
};

struct IncrementRecorderOptions {
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
  IncrementEncoding encoding;
  // Event bytes held before an increment is written early; what waits for a store that cannot
  // take it yet is bounded too, and past it that store's chain ends (a new base follows).
  size_t buffer_limit = size_t{8} << 20;
  size_t pending_limit = size_t{16} << 20;
  // Starts a full snapshot (a scheduled save). Returns false when it could not (another job
  // runs, the save failed): asked again after a pause. A save that succeeds reaches StartChain
  // through the service's on_saved hook.
  std::function<bool()> take_base;
};

// One store's chain as the recorder knows it.
struct StoreChainStatus {
  std::string storage;
  std::string base;
  int64_t first_revision = 0;  // the base's
  int64_t first_unix = 0;
  int64_t last_revision = 0;     // the last revision written to this store
  int64_t complete_unix_ms = 0;  // the chain in this store is known complete up to this time
  std::string error;             // why the last write failed, while it is retried
};

struct RecorderStatus {
  std::string state;       // "watching", "taking a base", "waiting to retry a base", "stopped"
  std::string last_error;  // why the last chain ended or the last base failed
  std::vector<StoreChainStatus> stores;
};

class IncrementRecorder {
 public:
  using WallClock = std::function<int64_t()>;  // unix milliseconds

  IncrementRecorder(IncrementRecorderOptions options, EtcdWatcher& watcher, EtcdReplayClient& etcd,
                    WallClock now_ms = nullptr);
  ~IncrementRecorder();
  IncrementRecorder(const IncrementRecorder&) = delete;
  IncrementRecorder& operator=(const IncrementRecorder&) = delete;

  // Starts the recorder's thread: it asks for a base at once, then keeps the chain.
  void Start();
  // Writes what arrived (the chain stays readable up to it) and stops. Safe to call twice.
  void Stop();
  // A full snapshot was saved: the current chain ends (what arrived is written first) and the
  // next one starts from `base`. An SQLite snapshot or one without a revision is ignored.
  void StartChain(ChainBase base);
  RecorderStatus Status() const;
  // Seconds each store's chain is behind now (how long ago it was last known complete).
  std::vector<std::pair<std::string, double>> Lag() const;

 private:
  struct PendingWrite {
    std::string name;
    std::string bytes;
    int64_t last_revision = 0;
    int64_t confirmed_ms = 0;
  };
  struct StoreChain {
    SnapshotStore* store = nullptr;
    StoreChainStatus status;
    std::deque<PendingWrite> pending;
    size_t pending_bytes = 0;
  };
  struct Chain {
    ChainBase base;
    int64_t next_revision = 0;  // the revision the watch must deliver next
    std::vector<StoreChain> stores;
    std::thread watch;
    std::atomic<bool> stop_watch{false};
    bool watch_ended = false;  // guarded by mutex_
    std::string watch_error;   // guarded by mutex_
  };

  void Run();
  // Runs on the chain's watch thread.
  void Watch(Chain& chain);
  void OnResponse(Chain& chain, EtcdWatchResponse&& response);
  // Writes the buffered revisions as one increment (none when the buffer is empty) and notes
  // every store whose writes are all done as complete up to `confirmed_ms`.
  void Flush(Chain& chain, int64_t confirmed_ms);
  void WritePending(Chain& chain, StoreChain& store);
  // Flushes what arrived, stops the watch and ends the chain; `why` is logged when not empty.
  void EndChain(const std::string& why);
  void BeginChain(ChainBase base);
  // One interval's work: asks etcd where it is and flushes. False when it ended the chain (etcd
  // compacted past the base).
  bool Tick();

  IncrementRecorderOptions options_;
  EtcdWatcher& watcher_;
  EtcdReplayClient& etcd_;
  WallClock now_ms_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::optional<ChainBase> next_base_;
  std::unique_ptr<Chain> chain_;
  std::vector<RecordedRevision> buffer_;  // guarded by mutex_
  size_t buffer_bytes_ = 0;               // guarded by mutex_
  int64_t last_received_revision_ = 0;    // guarded by mutex_
  std::string state_ = "stopped";
  std::string last_error_;
  std::vector<StoreChainStatus> ended_;  // the last chain's stores, shown until the next begins
  std::thread thread_;
};

}  // namespace snapd
