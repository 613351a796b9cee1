// One consistent copy of kine's live SQLite database (k3s's `server/db/state.db`), and the check
// of such a copy. Only SQLite can read a WAL database that another process writes consistently,
// so both go through libsqlite3.
//
// The copy is SQLite's online backup in one read transaction: kine's writers never wait for it
// (WAL readers do not block writers), but the read transaction pins the WAL while it lasts, and a
// FULL checkpoint (kine runs one after each compaction) waits for it with the write lock held.
// The page copy is the shortest read transaction SQLite offers; see
// docs/sqlite-copy-measurements.md for how long it lasts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace snapd {

// kine's revision (MAX(id) of table kine, 0 when empty) and compact revision (prev_revision of the
// row named 'compact_rev_key', 0 when there is none), as kine itself reads them.
struct KineRevisions {
  int64_t revision = 0;
  int64_t compact_revision = 0;
};

struct SqliteCopyResult {
  uint64_t bytes = 0;       // size of the copy
  KineRevisions revisions;  // read from the copy, so they describe exactly what it holds
  // How long the source's read transaction was held: what a FULL checkpoint may wait for.
  std::chrono::milliseconds read_transaction{0};
  // The PASSIVE checkpoint run on the source after the copy (sqlite3_wal_checkpoint_v2's
  // counts): frames in the WAL and frames checkpointed; -1 when it could not run (another
  // checkpoint was running, or the source is not in WAL mode).
  int wal_frames = -1;
  int wal_frames_checkpointed = -1;
};

// Copies the live kine database at `source` into `destination` (a new file, created 0600; it must
// not exist), as of one transaction, then lets the source's WAL be checkpointed (PASSIVE: never
// waits for nor blocks a writer). Opens `source` read-write (a WAL reader writes the -shm index)
// but never creates it nor writes a row. The copy is in rollback-journal mode: a single file.
// `cancel` stops between steps; `on_progress`, when set, hears (bytes copied, bytes in all) after
// each step. Throws snapd::Error naming the path: NotFound when `source` does not exist,
// Permanent when it is not a kine database, Transient when it stays locked, Cancelled; nothing
// of `destination` remains then.
SqliteCopyResult CopyKineDatabase(const std::string& source, const std::string& destination,
                                  const std::atomic<bool>* cancel,
                                  const std::function<void(uint64_t, uint64_t)>& on_progress = {});

// Checks a copy made by CopyKineDatabase (or any kine database nobody writes): PRAGMA
// integrity_check says "ok" and table kine exists. Opens `path` immutable and read-only, so
// it writes nothing beside it. Throws snapd::Error naming the path: NotFound, Corrupt (not a
// database, fails the check, no table kine), Cancelled.
KineRevisions CheckKineSnapshot(const std::string& path, const std::atomic<bool>* cancel = nullptr);

}  // namespace snapd
