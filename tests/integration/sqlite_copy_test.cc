// Integration tests of lib/datastore/sqlite_copy against a live kine-like writer: the
// tests/tools/kine-writer program (its path in $KINE_WRITER), started as a child process and
// writing to a SQLite database in a temp dir while the copy runs.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../unit/require_error.h"
#include "core/error.h"
#include "datastore/sqlite_copy.h"

extern char** environ;

using namespace snapd;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "snapd-sqlite-copy-test.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

// A test-side connection (never creates the file).
class Db {
 public:
  explicit Db(const std::string& path, int flags = SQLITE_OPEN_READWRITE) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) FAIL("open " << path << ": " << sqlite3_errstr(rc));
    sqlite3_busy_timeout(db_, 10000);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message != nullptr ? message : "?";
      sqlite3_free(message);
      FAIL(sql << ": " << text);
    }
  }
  // The first column of the first row as text ("" for none).
  std::string Text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      FAIL(sql << ": " << sqlite3_errmsg(db_));
    }
    std::string value;
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) FAIL(sql << ": " << sqlite3_errstr(rc));
    return value;
  }
  int64_t Int(const std::string& sql) { return std::stoll("0" + Text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

std::string KineWriter() {
  const char* path = std::getenv("KINE_WRITER");
  if (path == nullptr || *path == '\0') FAIL("KINE_WRITER is not set: run this through meson test");
  return path;
}

// kine-writer as a child process.
class Writer {
 public:
  explicit Writer(std::vector<std::string> args) {
    args.insert(args.begin(), KineWriter());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  }
  ~Writer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Its exit status (128 + signal when killed).
  int Wait() {
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  int Stop() {
    ::kill(pid_, SIGTERM);
    return Wait();
  }
  bool Running() {
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
};

int64_t Revision(const std::string& db_path) {
  Db db(db_path);
  return db.Int("SELECT IFNULL(MAX(id), 0) FROM kine");
}

// Waits until the writer has committed a revision above `above`; returns it.
int64_t WaitForRevisionAbove(Writer& writer, const std::string& db_path, int64_t above) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    REQUIRE(writer.Running());
    if (fs::exists(db_path)) {
      Db db(db_path);
      // The writer may not have made its table yet.
      if (db.Int("SELECT count(*) FROM sqlite_schema WHERE name = 'kine'") > 0) {
        const int64_t revision = db.Int("SELECT IFNULL(MAX(id), 0) FROM kine");
        if (revision > above) return revision;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("kine-writer did not write past revision " << above << " in 60 s");
  return 0;
}

// A kine database of about `mb` MiB made by kine-writer, which has exited.
void Fill(const std::string& db_path, int mb) {
  Writer writer(
      {"--db", db_path, "--fill-mb", std::to_string(mb), "--value-bytes", "4096", "--keys", "200"});
  REQUIRE(writer.Wait() == 0);
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_size);
}

bool NothingAt(const std::string& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
    if (fs::exists(path + suffix)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("A copy under a live writer holds exactly the rows up to its revision", "[sqlite-copy]") {
  TempDir dir;
  const std::string source = dir.path + "/state.db";
  const std::string copy = dir.path + "/copy.db";
  Fill(source, 32);
  Writer writer({"--db", source, "--rate", "500", "--value-bytes", "2048", "--keys", "100"});
  const int64_t started = WaitForRevisionAbove(writer, source, Revision(source));

  // Inside the copy's read transaction (its first progress report), wait for the writer to
  // commit past what the copy sees: that write must neither wait for the copy nor show in it.
  int64_t seen_during_copy = 0;
  int reports = 0;
  const SqliteCopyResult result =
      CopyKineDatabase(source, copy, nullptr, [&](uint64_t copied, uint64_t total) {
        CHECK(copied > 0);
        CHECK(copied <= total);
        if (reports++ > 0) return;
        seen_during_copy = Revision(source);
        WaitForRevisionAbove(writer, source, seen_during_copy);
      });
  REQUIRE(reports > 0);
  const int64_t after_copy = WaitForRevisionAbove(writer, source, Revision(source));
  // The writer exits non-zero on any SQLite error, SQLITE_BUSY included.
  REQUIRE(writer.Stop() == 0);

  const int64_t revision = result.revisions.revision;
  CHECK(revision >= started);
  CHECK(revision <= seen_during_copy);
  CHECK(result.revisions.compact_revision == 0);
  CHECK(result.bytes == FileSize(copy));
  CHECK(result.read_transaction.count() > 0);
  CHECK(Revision(source) >= after_copy);

  // One self-contained file, in rollback-journal mode, that passes the check.
  CHECK_FALSE(fs::exists(copy + "-wal"));
  CHECK_FALSE(fs::exists(copy + "-shm"));
  CHECK_FALSE(fs::exists(copy + "-journal"));
  const KineRevisions checked = CheckKineSnapshot(copy);
  CHECK(checked.revision == revision);
  CHECK(checked.compact_revision == 0);

  // kine only ever appends (no compaction here): the copy must equal the source's rows up to
  // its revision, no torn transaction, no lost row.
  Db db(copy);
  CHECK(db.Text("PRAGMA journal_mode") == "delete");
  CHECK(db.Int("SELECT MAX(id) FROM kine") == revision);
  CHECK(db.Int("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'kine'") ==
        5);
  db.Exec("ATTACH DATABASE '" + source + "' AS src");
  const std::string upto = std::to_string(revision);
  CHECK(db.Int("SELECT count(*) FROM main.kine") ==
        db.Int("SELECT count(*) FROM src.kine WHERE id <= " + upto));
  CHECK(db.Int("SELECT count(*) FROM (SELECT * FROM src.kine WHERE id <= " + upto +
               " EXCEPT SELECT * FROM main.kine)") == 0);
  CHECK(db.Int("SELECT count(*) FROM (SELECT * FROM main.kine EXCEPT SELECT * FROM src.kine "
               "WHERE id <= " +
               upto + ")") == 0);
}

TEST_CASE("The copy checkpoints the source's WAL and reads the compact revision", "[sqlite-copy]") {
  TempDir dir;
  const std::string source = dir.path + "/state.db";
  const std::string copy = dir.path + "/copy.db";
  // kine-like compactions leave a compact_rev_key row.
  Writer filler({"--db", source, "--writes", "3000", "--value-bytes", "2048", "--keys", "50",
                 "--compact-every", "1000"});
  REQUIRE(filler.Wait() == 0);
  Db other(source);
  const int64_t compact_revision =
      other.Int("SELECT MAX(prev_revision) FROM kine WHERE name = 'compact_rev_key'");
  REQUIRE(compact_revision > 0);

  // Another connection (as kine's) writes rows that stay in the WAL, not yet in the file.
  other.Exec("PRAGMA wal_autocheckpoint = 0");
  other.Exec(
      "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value) "
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
      "SELECT '/registry/extra/' || i, 1, 0, 0, 0, 0, randomblob(4096) FROM n");
  const int64_t revision = other.Int("SELECT MAX(id) FROM kine");
  // What the database file alone holds, without the WAL.
  auto file_revision = [&] {
    Db file("file:" + source + "?immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    return file.Int("SELECT MAX(id) FROM kine");
  };
  REQUIRE(file_revision() < revision);

  const SqliteCopyResult result = CopyKineDatabase(source, copy, nullptr);
  CHECK(result.revisions.revision == revision);
  CHECK(result.revisions.compact_revision == compact_revision);
  CHECK(result.wal_frames > 0);
  CHECK(result.wal_frames_checkpointed == result.wal_frames);
  // The copy's PASSIVE checkpoint moved the WAL's frames into the database file.
  CHECK(file_revision() == revision);
  CHECK(CheckKineSnapshot(copy).compact_revision == compact_revision);
}

TEST_CASE("Copy errors name the path and leave nothing behind", "[sqlite-copy]") {
  TempDir dir;
  const std::string copy = dir.path + "/copy.db";

  SECTION("a missing source is not created") {
    const std::string missing = dir.path + "/missing/state.db";
    RequireError([&] { CopyKineDatabase(missing, copy, nullptr); }, ErrorKind::kNotFound,
                 "kine database " + missing + ": no such file");
    CHECK(NothingAt(missing));
    const std::string missing_here = dir.path + "/state.db";
    RequireError([&] { CopyKineDatabase(missing_here, copy, nullptr); }, ErrorKind::kNotFound,
                 missing_here);
    CHECK(NothingAt(missing_here));
  }
  SECTION("a file that is not SQLite") {
    const std::string text = dir.path + "/state.db";
    const std::string body(4096, 'x');
    std::ofstream(text) << body;
    RequireError([&] { CopyKineDatabase(text, copy, nullptr); }, ErrorKind::kPermanent,
                 text + ": read schema: file is not a database");
    std::ifstream in(text);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == body);
    CHECK_FALSE(fs::exists(text + "-wal"));
  }
  SECTION("a SQLite database without table kine") {
    const std::string other = dir.path + "/other.db";
    {
      Db db(other, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
      db.Exec("PRAGMA journal_mode = WAL; CREATE TABLE foo(x); INSERT INTO foo VALUES (1)");
    }
    RequireError([&] { CopyKineDatabase(other, copy, nullptr); }, ErrorKind::kPermanent,
                 "kine database " + other + ": no table kine");
  }
  SECTION("a destination that exists is left alone") {
    const std::string source = dir.path + "/state.db";
    Fill(source, 1);
    std::ofstream(copy) << "keep";
    RequireError([&] { CopyKineDatabase(source, copy, nullptr); }, ErrorKind::kPermanent, copy);
    std::ifstream in(copy);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "keep");
    fs::remove(copy);
  }
  CHECK(NothingAt(copy));
}

TEST_CASE("A snapshot check names what is wrong", "[sqlite-copy]") {
  TempDir dir;
  const std::string snapshot = dir.path + "/snapshot.db";
  RequireError([&] { CheckKineSnapshot(snapshot); }, ErrorKind::kNotFound, snapshot);

  std::ofstream(snapshot) << std::string(4096, 'x');
  RequireError([&] { CheckKineSnapshot(snapshot); }, ErrorKind::kCorrupt,
               snapshot + ": read schema: file is not a database");

  // A good copy, then one page of its table overwritten.
  const std::string source = dir.path + "/state.db";
  Fill(source, 2);
  fs::remove(snapshot);
  CopyKineDatabase(source, snapshot, nullptr);
  REQUIRE_NOTHROW(CheckKineSnapshot(snapshot));
  {
    std::fstream file(snapshot, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(FileSize(snapshot) / 2 / 4096 * 4096));
    file << std::string(4096, '\x5a');
  }
  RequireError([&] { CheckKineSnapshot(snapshot); }, ErrorKind::kCorrupt, snapshot);
  CHECK_FALSE(fs::exists(snapshot + "-wal"));
  CHECK_FALSE(fs::exists(snapshot + "-shm"));
}

TEST_CASE("A cancelled copy or check stops and leaves no copy", "[sqlite-copy]") {
  TempDir dir;
  const std::string source = dir.path + "/state.db";
  const std::string copy = dir.path + "/copy.db";
  Fill(source, 8);
  std::atomic<bool> cancel{false};
  int calls = 0;
  RequireError(
      [&] {
        CopyKineDatabase(source, copy, &cancel, [&](uint64_t copied, uint64_t total) {
          calls++;
          CHECK(copied < total);
          cancel = true;
        });
      },
      ErrorKind::kCancelled, source + ": VACUUM INTO " + copy + ": interrupted");
  CHECK(calls == 1);
  CHECK(NothingAt(copy));

  RequireError([&] { CopyKineDatabase(source, copy, &cancel); }, ErrorKind::kCancelled, source);
  CHECK(NothingAt(copy));

  // The progress callback's exceptions come out of the copy.
  RequireError(
      [&] {
        CopyKineDatabase(source, copy, nullptr,
                         [&](uint64_t, uint64_t) { throw Error::Conflict("from the callback"); });
      },
      ErrorKind::kConflict, "from the callback");
  CHECK(NothingAt(copy));

  cancel = false;
  CopyKineDatabase(source, copy, &cancel);
  // kine-writer is gone: the copy's connection was the last and took its WAL and index along.
  CHECK_FALSE(fs::exists(source + "-wal"));
  CHECK_FALSE(fs::exists(source + "-shm"));
  cancel = true;
  RequireError([&] { CheckKineSnapshot(copy, &cancel); }, ErrorKind::kCancelled, copy);
}
