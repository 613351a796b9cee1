// One consistent copy of kine's live SQLite database (k3s's `server/db/state.db`), and the check
// of such a copy. Only SQLite can read a WAL database that another process writes consistently,
// so both go through libsqlite3.
//
// The copy is VACUUM INTO: one read transaction, in which kine's writers never wait for it (WAL
// readers do not block writers). But the read transaction pins the WAL while it lasts, and a FULL
// checkpoint (kine runs one after each compaction) waits for it with the write lock held, so
// kine's writes wait too (kine#586). VACUUM INTO copies only the pages in use, and kine's
// database is mostly free pages once it compacted (it never vacuums): its read transaction is
// the shortest; see docs/sqlite-copy-measurements.md.
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

// "file:" URI of `path` (made absolute) with `query` ("mode=ro&immutable=1"), every byte outside
// unreserved and '/' percent-encoded, so no file name can smuggle in URI parameters.
std::string SqliteFileUri(const std::string& path, const std::string& query);

struct SqliteCopyResult {
  uint64_t bytes = 0;       // size of the copy
  KineRevisions revisions;  // read from the copy, so they describe exactly what it holds
  // How long the source's read transaction was held (the VACUUM INTO statement): what a FULL
  // checkpoint, and so kine's writers, may have waited for.
  std::chrono::milliseconds read_transaction{0};
  // The PASSIVE checkpoint run on the source after the copy (sqlite3_wal_checkpoint_v2's
  // counts): frames in the WAL and frames checkpointed; -1 when it could not run: another
  // connection was checkpointing just then (doing the same work), or the source is not in WAL
  // mode.
  int wal_frames = -1;
  int wal_frames_checkpointed = -1;
};

// Copies the live kine database at `source` into `destination` (a new file, created 0600; it must
// not exist), as of one transaction, then lets the source's WAL be checkpointed (PASSIVE: never
// waits for nor blocks a writer). Opens `source` read-write (a WAL reader writes the -shm index)
// but never creates it nor writes a row. The copy holds only the pages in use, in
// rollback-journal mode (one file), and is not synced: the caller streams it. `cancel` stops it
// within microseconds; `on_progress`, when set, hears (bytes written, about the bytes to write)
// as the copy grows, from inside the copy's read transaction (what it throws stops the copy and
// comes out of CopyKineDatabase). Throws snapd::Error naming the
// path: NotFound when `source` does not exist, Permanent when it is not a kine database,
// Transient when it stays locked, Cancelled; nothing of `destination` remains then.
SqliteCopyResult CopyKineDatabase(const std::string& source, const std::string& destination,
                                  const std::atomic<bool>* cancel,
                                  const std::function<void(uint64_t, uint64_t)>& on_progress = {});

// Checks a copy made by CopyKineDatabase (or any kine database nobody writes): PRAGMA
// integrity_check says "ok" and table kine exists. Opens `path` immutable and read-only, so
// it writes nothing beside it. Throws snapd::Error naming the path: NotFound, Corrupt (not a
// database, fails the check, no table kine), Cancelled.
KineRevisions CheckKineSnapshot(const std::string& path, const std::atomic<bool>* cancel = nullptr);

}  // namespace snapd
