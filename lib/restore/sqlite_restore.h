// The host-side steps of restoring a SQLite (kine) snapshot, after the daemon fetched, decoded
// and verified it into a staged file: refuse while a process (k3s) has the database open, move
// state.db and its -wal and -shm aside (never deleting them), and put the copy in place with the
// old file's owner and mode, durably; a failed step moves the old files back.
#pragma once

#include <sys/types.h>
#include <string>
#include <vector>

#include "restore/data_dir_restore.h"

namespace snapd {

// Processes (pid and command name) that have `db_path`, or its -wal or -shm, open, read from
// /proc/*/fd. Processes whose descriptors cannot be read (not ours, without privilege) are not
// seen: run as root.
struct OpenFileHolder {
  pid_t pid = 0;
  std::string command;
};
std::vector<OpenFileHolder> ProcessesHoldingDatabase(const std::string& db_path);

struct SqliteRestoreOptions {
  std::string db_path;      // kine's database, e.g. /var/lib/rancher/k3s/server/db/state.db
  std::string staged_path;  // the verified, decoded snapshot (a SQLite database)
  bool force = false;       // restore even while a process has the database open
  int64_t now_unix = 0;     // for state.db-old-<unix>
};

// Moves <db>, <db>-wal and <db>-shm to <db>-old-<unix>[-wal|-shm] (SQLite pairs them by those
// names, so the old database stays openable), copies the staged file to <db>.restoring-<unix>
// with the old file's owner and mode (0600 when there was none), fsyncs it and renames it to
// <db>. Throws Error::Conflict naming the processes that hold the database unless `force`.
RestoreOutcome RestoreSqliteDatabase(const SqliteRestoreOptions& options, const RestoreLog& log);

}  // namespace snapd
