// An increment: the whole revisions a watch delivered between two flushes, each with the time the
// daemon received it, in a binary file that ends with its own SHA-256. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/etcd_watch.h"

namespace snapd {

struct RecordedRevision {
  int64_t revision = 0;
  int64_t received_unix_ms = 0;   // when the daemon received it (etcd events carry no time)
  std::vector<EtcdEvent> events;  // every event of the revision, in etcd's order
};

struct Increment {
  std::string base;  // the full snapshot (its name as stored) the chain continues
  // Revisions [first_revision, last_revision], every one of them present, in order.
  int64_t first_revision = 0;
  int64_t last_revision = 0;
  // When the daemon knew the chain complete through last_revision (>= every received time):
  // a time up to it resolves to last_revision.
  int64_t confirmed_unix_ms = 0;
  std::vector<RecordedRevision> revisions;
};

// The file: magic "K3SINC1\n", then the fields and revisions (little-endian integers, byte
// strings length-prefixed), then 32 bytes of SHA-256 of everything before them. Throws
// Error::InvalidInput when `increment` breaks its own rules (empty, revisions not contiguous
// from first to last, a revision without events, times out of order).
std::string EncodeIncrement(const Increment& increment);
// Throws Error::Corrupt naming what is wrong: bad magic, truncated, SHA-256 mismatch, lengths
// past the end, a broken rule above.
Increment DecodeIncrement(std::string_view bytes);

// Where an increment is kept: `<base>.<first>-<last>-<confirmed unix seconds>.inc`, then `.zst`
// and `.age` as it is encoded. The name alone gives the window for `ls` without a download.
struct IncrementName {
  std::string base;
  int64_t first_revision = 0;
  int64_t last_revision = 0;
  int64_t confirmed_unix = 0;
  bool compressed = false;  // .zst
  bool encrypted = false;   // .age
};
std::string FormatIncrementName(const IncrementName& name);
// nullopt-like: returns false for a name that is not an increment's (a snapshot's metadata,
// k3s's files), leaving `out` untouched.
bool ParseIncrementName(std::string_view text, IncrementName& out);

}  // namespace snapd
