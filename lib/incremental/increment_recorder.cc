// The increment recorder's two threads: the control thread (bases, ticks, writes) and, per
// chain, the watch thread that appends whole revisions to a bounded buffer.
#include "incremental/increment_recorder.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/error.h"

namespace snapd {
namespace {

using Steady = std::chrono::steady_clock;

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What an event costs in the buffer: its bytes plus the fixed fields.
size_t EventBytes(const EtcdEvent& event) {
  return event.kv.key.size() + event.kv.value.size() + 48;
}

}  // namespace

IncrementRecorder::IncrementRecorder(IncrementRecorderOptions options, EtcdWatcher& watcher,
                                     EtcdReplayClient& etcd, WallClock now_ms)
    : options_(std::move(options)),
      watcher_(watcher),
      etcd_(etcd),
      now_ms_(now_ms ? std::move(now_ms) : WallClock(SystemNowMs)) {}

IncrementRecorder::~IncrementRecorder() {
  Stop();
}

void IncrementRecorder::Start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  state_ = "taking a base";
  thread_ = std::thread([this] { Run(); });
}

void IncrementRecorder::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  state_ = "stopped";
}

void IncrementRecorder::StartChain(ChainBase base) {
  if (base.revision <= 0 || base.stores.empty()) return;
  {
    std::lock_guard lock(mutex_);
    next_base_ = std::move(base);
  }
  changed_.notify_all();
}

RecorderStatus IncrementRecorder::Status() const {
  std::lock_guard lock(mutex_);
  RecorderStatus status;
  status.state = state_;
  status.last_error = last_error_;
  if (chain_) {
    for (const StoreChain& store : chain_->stores) status.stores.push_back(store.status);
  } else {
    status.stores = ended_;
  }
  return status;
}

std::vector<std::pair<std::string, double>> IncrementRecorder::Lag() const {
  const int64_t now = now_ms_();
  std::vector<std::pair<std::string, double>> lag;
  for (const StoreChainStatus& store : Status().stores) {
    lag.emplace_back(store.storage,
                     std::max<double>(0, static_cast<double>(now - store.complete_unix_ms) / 1000));
  }
  return lag;
}

void IncrementRecorder::Run() {
  std::unique_lock lock(mutex_);
  auto next_tick = Steady::now() + options_.interval;
  auto retry_base_at = Steady::now();
  // A failed base is retried soon, but not in a tight loop against a failing etcd.
  const auto retry_pause = std::max<Steady::duration>(options_.interval, std::chrono::seconds(5));
  while (!stopping_) {
    if (next_base_) {
      ChainBase base = std::move(*next_base_);
      next_base_.reset();
      lock.unlock();
      if (chain_) EndChain("");
      BeginChain(std::move(base));
      lock.lock();
      next_tick = Steady::now() + options_.interval;
      continue;
    }
    if (!chain_) {
      if (Steady::now() < retry_base_at) {
        changed_.wait_until(lock, retry_base_at, [&] { return stopping_ || next_base_; });
        continue;
      }
      state_ = "taking a base";
      lock.unlock();
      bool started = false;
      try {
        started = options_.take_base && options_.take_base();
      } catch (const std::exception& e) {
        spdlog::warn("increments: the base snapshot failed: {}", e.what());
        std::lock_guard relock(mutex_);
        last_error_ = std::string("base snapshot: ") + e.what();
      }
      lock.lock();
      if (!next_base_) {
        // No save reached a store: nothing to continue from yet.
        (void)started;
        state_ = "waiting to retry a base";
        retry_base_at = Steady::now() + retry_pause;
      }
      continue;
    }
    Chain& chain = *chain_;
    changed_.wait_until(lock, next_tick, [&] {
      return stopping_ || next_base_ || chain.watch_ended || buffer_bytes_ >= options_.buffer_limit;
    });
    if (stopping_ || next_base_) continue;
    if (chain.watch_ended) {
      const std::string why = chain.watch_error;
      lock.unlock();
      EndChain(why);
      lock.lock();
      retry_base_at = Steady::now();
      continue;
    }
    const bool full = buffer_bytes_ >= options_.buffer_limit;
    lock.unlock();
    if (full) {
      Flush(chain, 0);
    } else if (!Tick()) {
      retry_base_at = Steady::now();  // the chain ended: its successor's base at once
    } else {
      next_tick = Steady::now() + options_.interval;
    }
    lock.lock();
  }
  lock.unlock();
  if (chain_) EndChain("");
}

bool IncrementRecorder::Tick() {
  Chain& chain = *chain_;
  const int64_t asked_ms = now_ms_();
  EtcdRevisionProbe probe;
  try {
    // Any compaction since the base fails this Range: the live HashKV then no longer matches
    // what a replay of this chain would rebuild, so a new base is taken.
    probe = etcd_.ProbeRevision(std::max<int64_t>(1, chain.base.compact_revision),
                                std::chrono::seconds(10));
  } catch (const std::exception& e) {
    spdlog::debug("increments: etcd's revision unknown this interval: {}", e.what());
    Flush(chain, 0);
    return true;
  }
  if (probe.compacted) {
    EndChain("etcd compacted its history past the base's compact revision " +
             std::to_string(chain.base.compact_revision));
    return false;
  }
  // What etcd had when asked is complete once the watch delivered it; it follows within a
  // moment on a healthy etcd, so wait that moment rather than report a lag that is not there.
  int64_t confirmed = 0;
  {
    std::unique_lock lock(mutex_);
    const auto limit = std::min<Steady::duration>(options_.interval / 2, std::chrono::seconds(2));
    changed_.wait_for(lock, limit, [&] {
      return stopping_ || chain.watch_ended || last_received_revision_ >= probe.current_revision;
    });
    if (last_received_revision_ >= probe.current_revision) confirmed = asked_ms;
  }
  Flush(chain, confirmed);
  return true;
}

void IncrementRecorder::Flush(Chain& chain, int64_t confirmed_ms) {
  std::vector<RecordedRevision> revisions;
  {
    std::lock_guard lock(mutex_);
    revisions.swap(buffer_);
    buffer_bytes_ = 0;
  }
  changed_.notify_all();  // a watch waiting for room goes on
  if (!revisions.empty()) {
    Increment increment;
    increment.base = chain.base.name;
    increment.first_revision = revisions.front().revision;
    increment.last_revision = revisions.back().revision;
    increment.confirmed_unix_ms = std::max(confirmed_ms, revisions.back().received_unix_ms);
    confirmed_ms = increment.confirmed_unix_ms;
    increment.revisions = std::move(revisions);
    IncrementName name;
    name.base = chain.base.name;
    name.first_revision = increment.first_revision;
    name.last_revision = increment.last_revision;
    name.confirmed_unix = increment.confirmed_unix_ms / 1000;
    name.compressed = options_.encoding.compress;
    name.encrypted = !options_.encoding.recipients.empty();
    PendingWrite write;
    write.name = FormatIncrementName(name);
    write.bytes = EncodeStoredIncrement(EncodeIncrement(increment), options_.encoding);
    write.last_revision = increment.last_revision;
    write.confirmed_ms = increment.confirmed_unix_ms;
    spdlog::debug("increment {}: {} revisions, {} bytes", write.name, increment.revisions.size(),
                  write.bytes.size());
    for (StoreChain& store : chain.stores) {
      store.pending.push_back(write);
      store.pending_bytes += write.bytes.size();
    }
  }
  for (StoreChain& store : chain.stores) {
    WritePending(chain, store);
    if (store.pending.empty() && confirmed_ms > 0) {
      std::lock_guard lock(mutex_);
      store.status.complete_unix_ms = std::max(store.status.complete_unix_ms, confirmed_ms);
    }
  }
}

void IncrementRecorder::WritePending(Chain& chain, StoreChain& store) {
  while (!store.pending.empty()) {
    PendingWrite& write = store.pending.front();
    try {
      store.store->PutIncrement(write.name, write.bytes);
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex_);
      if (store.status.error.empty()) {
        spdlog::warn("increments: {} cannot take {} yet: {}", store.status.storage, write.name,
                     e.what());
      }
      store.status.error = e.what();
      if (store.pending_bytes > options_.pending_limit) {
        // Holding more would break the memory bound: this chain ends where the store has it.
        chain.watch_ended = true;
        chain.watch_error = store.status.storage +
                            " has not taken increments for too long: " + std::string(e.what());
      }
      return;
    }
    std::lock_guard lock(mutex_);
    store.status.last_revision = write.last_revision;
    store.status.complete_unix_ms = std::max(store.status.complete_unix_ms, write.confirmed_ms);
    store.status.error.clear();
    store.pending_bytes -= write.bytes.size();
    store.pending.pop_front();
  }
}

void IncrementRecorder::BeginChain(ChainBase base) {
  auto chain = std::make_unique<Chain>();
  chain->base = std::move(base);
  chain->next_revision = chain->base.revision + 1;
  for (SnapshotStore* store : chain->base.stores) {
    StoreChain entry;
    entry.store = store;
    entry.status.storage = std::string(store->Kind());
    entry.status.base = chain->base.name;
    entry.status.first_revision = chain->base.revision;
    entry.status.first_unix = chain->base.created_unix;
    entry.status.last_revision = chain->base.revision;
    entry.status.complete_unix_ms = chain->base.created_unix * 1000;
    chain->stores.push_back(std::move(entry));
  }
  spdlog::info("increments: recording behind {} from revision {}", chain->base.name,
               chain->next_revision);
  Chain* started = chain.get();
  {
    std::lock_guard lock(mutex_);
    buffer_.clear();
    buffer_bytes_ = 0;
    last_received_revision_ = started->base.revision;
    chain_ = std::move(chain);
    state_ = "watching";
  }
  started->watch = std::thread([this, started] { Watch(*started); });
}

void IncrementRecorder::EndChain(const std::string& why) {
  Chain& chain = *chain_;
  chain.stop_watch = true;
  {
    std::lock_guard lock(mutex_);  // orders the flag before a waiting watch rechecks it
  }
  changed_.notify_all();
  if (chain.watch.joinable()) chain.watch.join();
  // Whatever arrived is contiguous from the last write: keep it readable.
  Flush(chain, 0);
  std::lock_guard lock(mutex_);
  if (!why.empty()) {
    spdlog::warn("increments behind {} end at revision {}: {}; a new base follows", chain.base.name,
                 last_received_revision_, why);
    last_error_ = why;
  }
  ended_.clear();
  for (const StoreChain& store : chain.stores) ended_.push_back(store.status);
  chain_.reset();
  buffer_.clear();
  buffer_bytes_ = 0;
}

void IncrementRecorder::Watch(Chain& chain) {
  std::string error;
  try {
    watcher_.WatchAll(chain.base.revision + 1, chain.stop_watch, [&](EtcdWatchResponse&& response) {
      OnResponse(chain, std::move(response));
    });
  } catch (const std::exception& e) {
    error = e.what();
  }
  {
    std::lock_guard lock(mutex_);
    chain.watch_ended = true;
    if (chain.watch_error.empty()) {
      chain.watch_error = !error.empty() ? error : "etcd ended the watch";
    }
  }
  changed_.notify_all();
}

void IncrementRecorder::OnResponse(Chain& chain, EtcdWatchResponse&& response) {
  const int64_t received = now_ms_();
  std::vector<RecordedRevision> revisions;
  size_t bytes = 0;
  int64_t expected;
  {
    std::lock_guard lock(mutex_);
    expected = chain.next_revision;
  }
  for (EtcdEvent& event : response.events) {
    const int64_t revision = event.kv.mod_revision;
    if (revisions.empty() || revisions.back().revision != revision) {
      if (revision != expected) {
        throw Error::Corrupt("the watch delivered revision " + std::to_string(revision) +
                             " where " + std::to_string(expected) + " was due");
      }
      revisions.push_back({revision, received, {}});
      ++expected;
    }
    bytes += EventBytes(event);
    revisions.back().events.push_back(std::move(event));
  }
  if (revisions.empty()) return;
  std::unique_lock lock(mutex_);
  chain.next_revision = expected;
  last_received_revision_ = expected - 1;
  for (RecordedRevision& revision : revisions) buffer_.push_back(std::move(revision));
  buffer_bytes_ += bytes;
  changed_.notify_all();
  // Backpressure: the watch waits while the control thread writes a full buffer out.
  changed_.wait(lock, [&] {
    return buffer_bytes_ < options_.buffer_limit || stopping_ || chain.stop_watch.load();
  });
}

}  // namespace snapd
