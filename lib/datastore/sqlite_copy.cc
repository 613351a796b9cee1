// CopyKineDatabase and CheckKineSnapshot: libsqlite3's VACUUM INTO and integrity check, with the
// connection settings, error kinds and clean-up around them.
#include "datastore/sqlite_copy.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <string>

#include "core/error.h"

namespace snapd {
namespace {

// Page cache of each connection: 2 MiB (a negative cache_size is in KiB).
constexpr char kCacheSize[] = "PRAGMA cache_size = -2048";
// How long to wait for a lock the source's other users hold (a RESTART or TRUNCATE checkpoint,
// WAL recovery). In WAL mode, as kine runs it, a copy takes no lock a writer waits for.
constexpr int kBusyTimeoutMs = 5000;
// VM instructions between checks of `cancel` (a few microseconds), and time between progress
// reports.
constexpr int kProgressInstructions = 1000;
constexpr std::chrono::milliseconds kProgressInterval{50};

ErrorKind KindOf(int rc, ErrorKind bad_file_kind) {
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
      return ErrorKind::kTransient;
    case SQLITE_INTERRUPT:
      return ErrorKind::kCancelled;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return bad_file_kind;
    default:
      return ErrorKind::kPermanent;
  }
}

// One sqlite3 connection; errors name `where_` (what the file is, and its path).
class Connection {
 public:
  Connection(const std::string& uri, int flags, std::string where, ErrorKind bad_file_kind)
      : where_(std::move(where)), bad_file_kind_(bad_file_kind) {
    int rc =
        sqlite3_open_v2(uri.c_str(), &db_, flags | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      throw Error(KindOf(rc, bad_file_kind_), where_ + ": open: " + message);
    }
    sqlite3_extended_result_codes(db_, 1);
  }
  ~Connection() { sqlite3_close_v2(db_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }

  // Runs `sql`; `what` says what it does in errors.
  void Exec(const char* sql, const char* what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) Fail(rc, what);
  }

  // The first column of the first row of `sql` as text ("" when there is no row or it is NULL).
  std::string QueryText(const char* sql, const char* what) {
    sqlite3_stmt* statement = Prepare(sql, what);
    std::string value;
    int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(statement, 0);
      if (text != nullptr) value = reinterpret_cast<const char*>(text);
    }
    Finish(statement, rc, what);
    return value;
  }

  int64_t QueryInt(const char* sql, const char* what) {
    sqlite3_stmt* statement = Prepare(sql, what);
    int64_t value = 0;
    int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
    Finish(statement, rc, what);
    return value;
  }

 private:
  [[noreturn]] void Fail(int rc, const std::string& what) const {
    throw Error(KindOf(rc, bad_file_kind_), where_ + ": " + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3_stmt* Prepare(const char* sql, const char* what) {
    sqlite3_stmt* statement = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr);
    if (rc != SQLITE_OK) Fail(rc, what);
    return statement;
  }
  void Finish(sqlite3_stmt* statement, int rc, const char* what) {
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    const int finalize_rc = sqlite3_finalize(statement);
    if (rc == SQLITE_OK) rc = finalize_rc;
    if (rc != SQLITE_OK) Fail(rc, what);
  }

  sqlite3* db_ = nullptr;
  std::string where_;
  ErrorKind bad_file_kind_;
};

bool HasKineTable(Connection& db) {
  return db.QueryInt("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'kine'",
                     "read schema") > 0;
}

// As kine reads them (its revSQL and compactRevSQL).
KineRevisions ReadRevisions(Connection& db) {
  KineRevisions revisions;
  revisions.revision = db.QueryInt("SELECT IFNULL(MAX(id), 0) FROM kine", "read revision");
  revisions.compact_revision =
      db.QueryInt("SELECT IFNULL(MAX(prev_revision), 0) FROM kine WHERE name = 'compact_rev_key'",
                  "read compact revision");
  return revisions;
}

// Throws NotFound when `path` does not exist, Permanent when it is not a regular file.
void RequireRegularFile(const std::string& path, const std::string& where) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw Error::NotFound(where + ": no such file");
    ThrowSystemError(where, errno);
  }
  if (!S_ISREG(st.st_mode)) throw Error::Permanent(where + ": not a regular file");
}

void ThrowIfCancelled(const std::atomic<bool>* cancel, const std::string& where) {
  if (cancel != nullptr && cancel->load()) throw Error::Cancelled(where + ": cancelled");
}

// Removes the destination and SQLite's files beside it unless released.
class DestinationGuard {
 public:
  explicit DestinationGuard(std::string path) : path_(std::move(path)) {}
  ~DestinationGuard() {
    if (path_.empty()) return;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((path_ + suffix).c_str());
  }
  DestinationGuard(const DestinationGuard&) = delete;
  DestinationGuard& operator=(const DestinationGuard&) = delete;
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

// The progress handler of a connection: stops statements once `cancel` is set, and reports how
// far a copy is (the size `path` has grown to) when it grew, at most every kProgressInterval.
class Progress {
 public:
  Progress(const std::atomic<bool>* cancel, const std::function<void(uint64_t, uint64_t)>* report,
           std::string path, uint64_t total)
      : cancel_(cancel), report_(report), path_(std::move(path)), total_(total) {}

  void Install(sqlite3* db) {
    sqlite3_progress_handler(
        db, kProgressInstructions, [](void* self) { return static_cast<Progress*>(self)->Tick(); },
        this);
  }
  static void Remove(sqlite3* db) { sqlite3_progress_handler(db, 0, nullptr, nullptr); }
  // What the report callback threw: it stopped the statement, and goes on from here.
  void RethrowIfFailed() const {
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  // Until the copy's first report, every tick looks at its size: the output grows only once
  // the copy has its read transaction, so the first report comes from inside it.
  int Tick() {
    if (cancel_ != nullptr && cancel_->load()) return 1;
    if (report_ == nullptr || !*report_) return 0;
    const auto now = std::chrono::steady_clock::now();
    if (reported_ > 0 && now - last_report_ < kProgressInterval) return 0;
    struct stat st {};
    const uint64_t done = ::stat(path_.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    if (done == reported_) return 0;
    reported_ = done;
    last_report_ = now;
    try {
      (*report_)(std::min(done, total_), total_);
    } catch (...) {
      // Never through SQLite's C frames.
      failure_ = std::current_exception();
      return 1;
    }
    return cancel_ != nullptr && cancel_->load() ? 1 : 0;
  }

  const std::atomic<bool>* cancel_;
  const std::function<void(uint64_t, uint64_t)>* report_;
  std::string path_;
  uint64_t total_;
  uint64_t reported_ = 0;
  std::chrono::steady_clock::time_point last_report_;
  std::exception_ptr failure_;
};

}  // namespace

std::string SqliteFileUri(const std::string& path, const std::string& query) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string absolute = std::filesystem::absolute(path).lexically_normal().string();
  std::string uri = "file:";
  for (unsigned char c : absolute) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (plain) {
      uri += static_cast<char>(c);
    } else {
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 0xF];
    }
  }
  return uri + "?" + query;
}

SqliteCopyResult CopyKineDatabase(const std::string& source, const std::string& destination,
                                  const std::atomic<bool>* cancel,
                                  const std::function<void(uint64_t, uint64_t)>& on_progress) {
  const std::string where = "kine database " + source;
  RequireRegularFile(source, where);
  ThrowIfCancelled(cancel, where);

  // Read-write without create: a WAL reader updates the -shm index, and mode=rw fails rather
  // than create a missing file. query_only refuses any write but a checkpoint, except while
  // VACUUM INTO writes its output.
  Connection src(SqliteFileUri(source, "mode=rw"), SQLITE_OPEN_READWRITE, where,
                 ErrorKind::kPermanent);
  sqlite3_busy_timeout(src.get(), kBusyTimeoutMs);
  src.Exec("PRAGMA query_only = ON", "set query_only");
  // Before the destination exists: is this a kine database at all?
  if (!HasKineTable(src)) throw Error::Permanent(where + ": no table kine: not a kine database");
  src.Exec(kCacheSize, "set cache_size");
  const std::string synchronous =
      std::to_string(src.QueryInt("PRAGMA synchronous", "read synchronous"));
  // What VACUUM INTO will write, about: the pages in use.
  const uint64_t total = static_cast<uint64_t>(
      src.QueryInt("SELECT (page_count - freelist_count) * page_size FROM pragma_page_count, "
                   "pragma_freelist_count, pragma_page_size",
                   "read size"));

  const std::string dest_where = "copy of kine database " + source + " at " + destination;
  {
    int fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) ThrowSystemError("create " + dest_where, errno);
    ::close(fd);
  }
  DestinationGuard guard(destination);
  SqliteCopyResult result;

  // VACUUM INTO reads the source in one read transaction, the statement's, and writes only the
  // pages in use, in order, into a rollback-journal database. Its output is synced as the
  // source connection's synchronous says: off for the statement, as the output is a scratch
  // file and a sync would lengthen the read transaction; restored before the checkpoint, which
  // must sync the source.
  {
    Progress progress(cancel, &on_progress, destination, total);
    progress.Install(src.get());
    src.Exec("PRAGMA query_only = OFF; PRAGMA synchronous = OFF", "set synchronous");
    const std::string into = "VACUUM INTO '" + SqliteFileUri(destination, "mode=rw") + "'";
    const auto start = std::chrono::steady_clock::now();
    const int rc = sqlite3_exec(src.get(), into.c_str(), nullptr, nullptr, nullptr);
    result.read_transaction = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    const std::string message = sqlite3_errmsg(src.get());
    Progress::Remove(src.get());
    const std::string restore = "PRAGMA synchronous = " + synchronous + "; PRAGMA query_only = ON";
    if (sqlite3_exec(src.get(), restore.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      // Closing the last connection checkpoints: never unsynced.
      sqlite3_db_config(src.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
      throw Error::Permanent(where + ": restore synchronous: " + sqlite3_errmsg(src.get()));
    }
    progress.RethrowIfFailed();
    if (rc != SQLITE_OK) {
      throw Error(KindOf(rc, ErrorKind::kPermanent),
                  where + ": VACUUM INTO " + destination + ": " + message);
    }
  }

  // Frames the copy kept the writer's checkpoints from: PASSIVE copies what it can at once.
  int log = -1;
  int checkpointed = -1;
  if (sqlite3_wal_checkpoint_v2(src.get(), "main", SQLITE_CHECKPOINT_PASSIVE, &log,
                                &checkpointed) == SQLITE_OK) {
    result.wal_frames = log;
    result.wal_frames_checkpointed = checkpointed;
  }

  {
    Connection copy(SqliteFileUri(destination, "mode=ro"), SQLITE_OPEN_READONLY, dest_where,
                    ErrorKind::kPermanent);
    if (!HasKineTable(copy)) throw Error::Permanent(dest_where + ": no table kine");
    result.revisions = ReadRevisions(copy);
  }
  struct stat st {};
  if (::stat(destination.c_str(), &st) != 0) ThrowSystemError("stat " + dest_where, errno);
  result.bytes = static_cast<uint64_t>(st.st_size);
  guard.Release();
  return result;
}

KineRevisions CheckKineSnapshot(const std::string& path, const std::atomic<bool>* cancel) {
  const std::string where = "kine snapshot " + path;
  RequireRegularFile(path, where);
  ThrowIfCancelled(cancel, where);
  // immutable: no locks, no -wal or -shm beside the file. The file may come from elsewhere:
  // defensive mode and an untrusted schema keep its SQL from doing anything but describe tables.
  Connection db(SqliteFileUri(path, "mode=ro&immutable=1"), SQLITE_OPEN_READONLY, where,
                ErrorKind::kCorrupt);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  Progress progress(cancel, nullptr, path, 0);
  progress.Install(db.get());
  const bool has_kine = HasKineTable(db);
  db.Exec(kCacheSize, "set cache_size");
  std::string check = db.QueryText("PRAGMA integrity_check(1)", "integrity check");
  if (check != "ok") {
    std::replace(check.begin(), check.end(), '\n', ' ');
    throw Error::Corrupt(where + ": integrity check: " + check);
  }
  if (!has_kine) throw Error::Corrupt(where + ": no table kine: not a kine database");
  return ReadRevisions(db);
}

}  // namespace snapd
