// sqlite-copy-bench: one copy of a live kine database by one method, timed, for
// docs/sqlite-copy-measurements.md. Prints one JSON line.
//
// sqlite-copy-bench METHOD SOURCE DESTINATION
//   lib          CopyKineDatabase: VACUUM INTO, synchronous = OFF for the statement
//   vacuum       VACUUM INTO with the connection's default synchronous (FULL): the output is
//                synced inside the statement, so inside the read transaction
//   backup-held  sqlite3_backup_step(256) inside one explicitly held read transaction
//   backup-all   sqlite3_backup_step(-1): one step, its own read transaction
//   backup-steps sqlite3_backup_step(256) with no held read transaction: restarts on every
//                write by another process (gives up after 15 s)
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "datastore/sqlite_copy.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite-copy-bench: %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

sqlite3* Open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  Check(sqlite3_open_v2(path.c_str(), &db, flags, nullptr), db, "open");
  sqlite3_busy_timeout(db, 5000);
  Check(sqlite3_exec(db, "PRAGMA cache_size = -2048", nullptr, nullptr, nullptr), db, "pragma");
  return db;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(
        stderr,
        "usage: sqlite-copy-bench lib|vacuum|backup-held|backup-all|backup-steps SOURCE DEST\n");
    return 2;
  }
  const std::string method = argv[1];
  const std::string source = argv[2];
  const std::string destination = argv[3];
  nlohmann::json out = {{"method", method}, {"wal_before", FileSize(source + "-wal")}};
  const auto start = Clock::now();
  double read_transaction_ms = 0;
  if (method == "lib") {
    const snapd::SqliteCopyResult result = snapd::CopyKineDatabase(source, destination, nullptr);
    read_transaction_ms = static_cast<double>(result.read_transaction.count());
    out["revision"] = result.revisions.revision;
    out["wal_frames"] = result.wal_frames;
    out["wal_frames_checkpointed"] = result.wal_frames_checkpointed;
  } else if (method == "backup-all" || method == "backup-steps" || method == "backup-held") {
    sqlite3* src = Open(source, SQLITE_OPEN_READWRITE);
    sqlite3* dst = Open(destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    Check(sqlite3_exec(dst, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", nullptr, nullptr,
                       nullptr),
          dst, "pragma");
    const bool held = method == "backup-held";
    if (held) {
      // BEGIN defers the read transaction to the first read.
      Check(
          sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr),
          src, "begin");
    }
    sqlite3_backup* backup = sqlite3_backup_init(dst, "main", src, "main");
    const int pages = method == "backup-all" ? -1 : 256;
    int rc = SQLITE_OK;
    int64_t steps = 0;
    int last_remaining = -1;
    int64_t restarts = 0;
    while (rc != SQLITE_DONE && Clock::now() - start < std::chrono::seconds(15)) {
      rc = sqlite3_backup_step(backup, pages);
      steps++;
      const int remaining = sqlite3_backup_remaining(backup);
      if (last_remaining >= 0 && remaining > last_remaining) restarts++;
      last_remaining = remaining;
      if (rc != SQLITE_OK && rc != SQLITE_DONE) break;
    }
    out["steps"] = steps;
    out["restarts"] = restarts;
    out["finished"] = rc == SQLITE_DONE;
    Check(sqlite3_backup_finish(backup), dst, "backup");
    if (held) Check(sqlite3_exec(src, "COMMIT", nullptr, nullptr, nullptr), src, "commit");
    // backup-all and backup-held hold the read transaction for the whole copy.
    read_transaction_ms = method == "backup-steps" ? -1 : Ms(Clock::now() - start);
    int log = -1, checkpointed = -1;
    sqlite3_wal_checkpoint_v2(src, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &checkpointed);
    out["wal_frames"] = log;
    out["wal_frames_checkpointed"] = checkpointed;
    sqlite3_close(dst);
    sqlite3_close(src);
  } else if (method == "vacuum") {
    sqlite3* src = Open(source, SQLITE_OPEN_READWRITE);
    sqlite3_stmt* statement = nullptr;
    Check(sqlite3_prepare_v2(src, "VACUUM INTO ?", -1, &statement, nullptr), src, "prepare");
    sqlite3_bind_text(statement, 1, destination.c_str(), -1, SQLITE_TRANSIENT);
    const auto statement_start = Clock::now();
    Check(sqlite3_step(statement), src, "VACUUM INTO");
    read_transaction_ms = Ms(Clock::now() - statement_start);
    sqlite3_finalize(statement);
    int log = -1, checkpointed = -1;
    sqlite3_wal_checkpoint_v2(src, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &checkpointed);
    out["wal_frames"] = log;
    out["wal_frames_checkpointed"] = checkpointed;
    sqlite3_close(src);
  } else {
    std::fprintf(stderr, "sqlite-copy-bench: unknown method %s\n", method.c_str());
    return 2;
  }
  out["seconds"] = Ms(Clock::now() - start) / 1000.0;
  out["read_transaction_ms"] = read_transaction_ms;
  out["bytes"] = FileSize(destination);
  out["wal_after"] = FileSize(source + "-wal");
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
