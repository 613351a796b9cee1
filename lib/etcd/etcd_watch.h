// What point-in-time recovery needs from etcd beyond a snapshot: a watch of every key from a
// revision on (EtcdWatcher), and the calls that replay recorded revisions into another etcd
// (EtcdReplayClient). Interfaces so the recorder and the replay can be tested against faults.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "etcd/etcd_client.h"

namespace snapd {

// One change as etcd's watch reports it. A delete carries the key and its mod_revision (the
// revision that deleted it); a put the whole key as it became.
struct EtcdEvent {
  bool is_delete = false;
  EtcdKeyValue kv;
};

// One watch response with events: whole revisions (etcd never splits a revision's events
// across responses unless asked to fragment, and we never ask), in revision order.
struct EtcdWatchResponse {
  int64_t header_revision = 0;  // etcd's current revision when it sent this response
  std::vector<EtcdEvent> events;
};

class EtcdWatcher {
 public:
  virtual ~EtcdWatcher() = default;
  // Watches every key from `start_revision` on and calls `on_response` for each response that
  // carries events, on this thread, until `stop` is set (then returns). Throws snapd::Error when
  // the watch cannot go on: kPermanent naming etcd's compact revision ("watch from revision S:
  // etcd compacted to revision C") when `start_revision` was compacted; kPermanent when etcd
  // cancels the watch; kTransient when the stream breaks or etcd cannot be reached. An
  // exception from `on_response` ends the watch and propagates.
  virtual void WatchAll(int64_t start_revision, const std::atomic<bool>& stop,
                        const std::function<void(EtcdWatchResponse&&)>& on_response) = 0;
};

// What a Range at a past revision says about the cluster.
struct EtcdRevisionProbe {
  int64_t current_revision = 0;  // the response header's revision (0 when compacted)
  bool compacted = false;        // etcd compacted past the asked revision
};

class EtcdReplayClient {
 public:
  virtual ~EtcdReplayClient() = default;
  // A one-key count-only Range at `at_revision` (0: the newest): etcd's current revision, or
  // compacted when etcd's compact revision is above `at_revision`. Throws as the coordination
  // calls do for anything else.
  virtual EtcdRevisionProbe ProbeRevision(int64_t at_revision,
                                          std::chrono::milliseconds timeout) = 0;
  // Applies one recorded revision's events as one transaction with no conditions (each put with
  // its value and lease, each delete of its one key), so it makes exactly one new revision.
  // Returns the revision etcd gave it.
  virtual int64_t ApplyRevision(const std::vector<EtcdEvent>& events,
                                std::chrono::milliseconds timeout) = 0;
  // Grants lease `id` with `ttl_seconds` unless a lease with that id exists; returns whether it
  // granted one.
  virtual bool LeaseGrantWithId(int64_t id, int64_t ttl_seconds,
                                std::chrono::milliseconds timeout) = 0;
  // Every lease id etcd holds (Lease/LeaseLeases).
  virtual std::vector<int64_t> LeaseIds(std::chrono::milliseconds timeout) = 0;
  // Compacts etcd's history up to `revision` (tests and benchmarks use it; the replay never).
  virtual void Compact(int64_t revision, std::chrono::milliseconds timeout) = 0;
};

}  // namespace snapd
