// kine-writer: writes to a SQLite database as kine (k3s's datastore) does, so tests and
// scripts/bench can copy a live kine database. It opens the database with kine's settings and
// schema, writes one row per revision in its own IMMEDIATE transaction (create, updates, then a
// delete of each key in turn, the rows linked by prev_revision as kine links them), and can
// compact as kine does, ending with kine's PRAGMA wal_checkpoint(FULL). Any SQLite error
// (SQLITE_BUSY included) ends it with exit status 1; a usage error with 2.
//
// kine-writer --db PATH [--value-bytes N] [--keys N] [--rate N] [--fill-mb N] [--seconds N]
//             [--writes N] [--compact-every N] [--latency-out FILE] [--state-out FILE]
// It stops at SIGTERM or SIGINT, or when the first of --fill-mb (database size; it may never be
// reached with --compact-every), --seconds or --writes is reached.
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using Clock = std::chrono::steady_clock;

// kine's SQLite schema and set-up (pkg/drivers/sqlite/sqlite.go), statement for statement.
constexpr const char* kSchema[] = {
    R"(CREATE TABLE IF NOT EXISTS kine
			(
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				name INTEGER,
				created INTEGER,
				deleted INTEGER,
				create_revision INTEGER,
				prev_revision INTEGER,
				lease INTEGER,
				value BLOB,
				old_value BLOB
			))",
    "CREATE INDEX IF NOT EXISTS kine_name_index ON kine (name)",
    "CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name,id)",
    "CREATE INDEX IF NOT EXISTS kine_id_deleted_index ON kine (id,deleted)",
    "CREATE INDEX IF NOT EXISTS kine_prev_revision_index ON kine (prev_revision)",
    // One statement in two literals (parenthesized: not a missing comma).
    ("CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, "
     "prev_revision)"),
    "PRAGMA wal_checkpoint(TRUNCATE)",
};

constexpr const char* kInsertSql =
    "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, "
    "old_value) values(?, ?, ?, ?, ?, ?, ?, ?)";
// kine's CompactSQL for SQLite: superseded rows and tombstones up to a revision.
constexpr const char* kCompactSql = R"(
		DELETE FROM kine AS kv
		WHERE
			kv.id IN (
				SELECT kp.prev_revision AS id
				FROM kine AS kp
				WHERE
					kp.name != 'compact_rev_key' AND
					kp.prev_revision != 0 AND
					kp.id <= ?
				UNION
				SELECT kd.id AS id
				FROM kine AS kd
				WHERE
					kd.deleted != 0 AND
					kd.id <= ?
			))";
constexpr const char* kKeyPrefix = "/registry/configmaps/kine-writer/name-";
// kine keeps at least this many revisions and compacts in batches of this many.
constexpr int64_t kCompactMinRetain = 1000;
constexpr int64_t kCompactBatch = 1000;

volatile std::sig_atomic_t stop_requested = 0;

struct Options {
  std::string db;
  size_t value_bytes = 1024;
  int64_t keys = 1000;
  double rate = 0;  // writes a second; 0: as fast as possible
  uint64_t fill_mb = 0;
  double seconds = 0;
  int64_t writes = 0;
  int64_t compact_every = 0;
  std::string latency_out;
  std::string state_out;
};

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The latest row of one key, as kine would read it.
struct KeyState {
  bool live = false;
  int64_t last_id = 0;          // becomes the next row's prev_revision
  int64_t create_revision = 0;  // the id of the row that created it
  int64_t writes = 0;
  std::string value;
};

class Writer {
 public:
  explicit Writer(const Options& options) : options_(options), keys_(options.keys) {
    if (sqlite3_open_v2(options.db.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      Fail("open " + options.db);
    }
    // As k3s's DSN (_journal=WAL, _busy_timeout=30000, _txlock=immediate) and go-sqlite3's
    // default synchronous=NORMAL set it.
    sqlite3_busy_timeout(db_, 30000);
    Exec("PRAGMA journal_mode = WAL");
    Exec("PRAGMA synchronous = NORMAL");
    for (const char* statement : kSchema) Exec(statement);
    if (sqlite3_prepare_v2(db_, kInsertSql, -1, &insert_, nullptr) != SQLITE_OK) Fail("prepare");
    LoadKeys();
    revision_ = QueryInt("SELECT IFNULL(MAX(id), 0) FROM kine");
  }
  ~Writer() {
    sqlite3_finalize(insert_);
    sqlite3_close_v2(db_);
  }

  // Writes until a stop condition; throws Failure on any SQLite error.
  void Run() {
    const auto start = Clock::now();
    std::mt19937_64 random(static_cast<uint64_t>(revision_) + 1);
    for (int64_t i = 0; stop_requested == 0 && (options_.writes == 0 || i < options_.writes); ++i) {
      auto scheduled = Clock::now();
      if (options_.rate > 0) {
        scheduled =
            start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(i) / options_.rate));
        std::this_thread::sleep_until(scheduled);
        if (stop_requested != 0) break;
      }
      if (options_.seconds > 0 &&
          Clock::now() - start >= std::chrono::duration<double>(options_.seconds)) {
        break;
      }
      WriteOne(keys_[static_cast<size_t>(i % options_.keys)], i % options_.keys, random);
      // From the scheduled start: a stall delays the writes queued behind it too.
      latencies_us_.push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - scheduled).count());
      if (options_.compact_every > 0 && (i + 1) % options_.compact_every == 0) Compact();
      if (options_.fill_mb > 0 && (i + 1) % 256 == 0 &&
          QueryInt("PRAGMA page_count") * QueryInt("PRAGMA page_size") >=
              static_cast<int64_t>(options_.fill_mb) << 20) {
        break;
      }
    }
    seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
  }

  void WriteOutputs() const {
    if (!options_.state_out.empty()) {
      std::ofstream(options_.state_out) << revision_ << "\n";
    }
    if (options_.latency_out.empty()) return;
    std::vector<double> sorted = latencies_us_;
    std::sort(sorted.begin(), sorted.end());
    auto percentile_ms = [&](double p) {
      if (sorted.empty()) return 0.0;
      size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
      return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1] / 1000.0;
    };
    nlohmann::json out = {
        {"writes", sorted.size()},
        {"seconds", seconds_},
        {"revision", revision_},
        {"p50_ms", percentile_ms(0.50)},
        {"p99_ms", percentile_ms(0.99)},
        {"max_ms", sorted.empty() ? 0.0 : sorted.back() / 1000.0},
        {"compactions", compactions_},
        {"compact_max_ms", compact_max_ms_},
        {"checkpoint_max_ms", checkpoint_max_ms_},
        {"checkpoint_busy", checkpoint_busy_},
    };
    std::ofstream(options_.latency_out) << out.dump() << "\n";
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw Failure(what + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory"));
  }

  void Exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) Fail(sql);
  }

  int64_t QueryInt(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr) != SQLITE_OK) Fail(sql);
    int rc = sqlite3_step(statement);
    int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      sqlite3_finalize(statement);
      Fail(sql);
    }
    sqlite3_finalize(statement);
    return value;
  }

  // The latest row of each of our keys, so a second run continues where the first stopped.
  void LoadKeys() {
    const std::string sql =
        "SELECT name, id, created, deleted, create_revision, value FROM kine WHERE id IN "
        "(SELECT MAX(id) FROM kine WHERE name LIKE '" +
        std::string(kKeyPrefix) + "%' GROUP BY name)";
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) Fail("load");
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      const int64_t index =
          std::strtoll(name.c_str() + std::string(kKeyPrefix).size(), nullptr, 10);
      if (index < 0 || index >= options_.keys) continue;
      KeyState& key = keys_[static_cast<size_t>(index)];
      key.last_id = sqlite3_column_int64(statement, 1);
      key.live = sqlite3_column_int64(statement, 3) == 0;
      key.create_revision = sqlite3_column_int64(statement, 2) != 0
                                ? key.last_id
                                : sqlite3_column_int64(statement, 4);
      const void* blob = sqlite3_column_blob(statement, 5);
      if (key.live && blob != nullptr) {
        key.value.assign(static_cast<const char*>(blob),
                         static_cast<size_t>(sqlite3_column_bytes(statement, 5)));
      }
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) Fail("load");
  }

  std::string NewValue(std::mt19937_64& random) const {
    std::string value(options_.value_bytes, '\0');
    for (size_t i = 0; i < value.size(); i += 8) {
      const uint64_t word = random();
      for (size_t j = 0; j < 8 && i + j < value.size(); ++j)
        value[i + j] = static_cast<char>(word >> (8 * j));
    }
    return value;
  }

  // One revision of key `index`: created when absent, deleted every 10th write, else updated.
  void WriteOne(KeyState& key, int64_t index, std::mt19937_64& random) {
    const std::string name = kKeyPrefix + std::to_string(index);
    const bool create = !key.live;
    const bool remove = !create && key.writes % 10 == 9;
    const std::string value = remove ? key.value : NewValue(random);

    Exec("BEGIN IMMEDIATE");
    sqlite3_reset(insert_);
    sqlite3_bind_text(insert_, 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 2, create ? 1 : 0);
    sqlite3_bind_int64(insert_, 3, remove ? 1 : 0);
    sqlite3_bind_int64(insert_, 4, create ? 0 : key.create_revision);
    sqlite3_bind_int64(insert_, 5, key.last_id);
    sqlite3_bind_int64(insert_, 6, 0);
    sqlite3_bind_blob(insert_, 7, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    if (create) {
      sqlite3_bind_null(insert_, 8);
    } else {
      sqlite3_bind_blob(insert_, 8, key.value.data(), static_cast<int>(key.value.size()),
                        SQLITE_STATIC);
    }
    if (sqlite3_step(insert_) != SQLITE_DONE) Fail("insert " + name);
    const int64_t id = sqlite3_last_insert_rowid(db_);
    Exec("COMMIT");

    revision_ = id;
    key.last_id = id;
    key.writes++;
    if (create) key.create_revision = id;
    key.live = !remove;
    key.value = remove ? std::string() : value;
  }

  // As kine's compactor: keep kCompactMinRetain revisions, compact in batches, each one
  // transaction that also records the compact revision, then checkpoint FULL.
  void Compact() {
    const auto start = Clock::now();
    if (QueryInt("SELECT count(*) FROM kine WHERE name = 'compact_rev_key'") == 0) {
      Exec("BEGIN IMMEDIATE");
      Exec(
          "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, "
          "old_value) values('compact_rev_key', 1, 0, 0, 0, 0, '', NULL)");
      revision_ = sqlite3_last_insert_rowid(db_);
      Exec("COMMIT");
    }
    int64_t compacted =
        QueryInt("SELECT IFNULL(MAX(prev_revision), 0) FROM kine WHERE name = 'compact_rev_key'");
    const int64_t target = revision_ - kCompactMinRetain;
    sqlite3_stmt* compact = nullptr;
    sqlite3_stmt* record = nullptr;
    if (sqlite3_prepare_v2(db_, kCompactSql, -1, &compact, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db_, "UPDATE kine SET prev_revision = ? WHERE name = 'compact_rev_key'",
                           -1, &record, nullptr) != SQLITE_OK) {
      sqlite3_finalize(compact);
      Fail("prepare compact");
    }
    while (compacted < target) {
      const int64_t batch = std::min(compacted + kCompactBatch, target);
      Exec("BEGIN IMMEDIATE");
      sqlite3_bind_int64(compact, 1, batch);
      sqlite3_bind_int64(compact, 2, batch);
      sqlite3_bind_int64(record, 1, batch);
      const bool ok = sqlite3_step(compact) == SQLITE_DONE && sqlite3_step(record) == SQLITE_DONE;
      sqlite3_reset(compact);
      sqlite3_reset(record);
      if (!ok) {
        sqlite3_finalize(compact);
        sqlite3_finalize(record);
        Fail("compact");
      }
      Exec("COMMIT");
      compacted = batch;
    }
    sqlite3_finalize(compact);
    sqlite3_finalize(record);

    const auto checkpoint_start = Clock::now();
    int log = 0;
    int checkpointed = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_FULL, &log, &checkpointed);
    if (rc == SQLITE_BUSY) {
      checkpoint_busy_++;  // kine logs this and carries on
    } else if (rc != SQLITE_OK) {
      Fail("wal_checkpoint(FULL)");
    }
    const auto end = Clock::now();
    compactions_++;
    compact_max_ms_ =
        std::max(compact_max_ms_, std::chrono::duration<double, std::milli>(end - start).count());
    checkpoint_max_ms_ =
        std::max(checkpoint_max_ms_,
                 std::chrono::duration<double, std::milli>(end - checkpoint_start).count());
  }

  const Options& options_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::vector<KeyState> keys_;
  int64_t revision_ = 0;
  std::vector<double> latencies_us_;
  double seconds_ = 0;
  int64_t compactions_ = 0;
  double compact_max_ms_ = 0;
  double checkpoint_max_ms_ = 0;
  int64_t checkpoint_busy_ = 0;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr,
               "kine-writer: %s\n"
               "usage: kine-writer --db PATH [--value-bytes N] [--keys N] [--rate N] "
               "[--fill-mb N] [--seconds N] [--writes N] [--compact-every N] [--latency-out FILE] "
               "[--state-out FILE]\n",
               problem.c_str());
  std::exit(2);
}

double Number(const std::string& flag, const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || value < 0) Usage(flag + " wants a number >= 0");
  return value;
}

Options Parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(flag + " needs a value");
    const char* value = argv[++i];
    if (flag == "--db") {
      options.db = value;
    } else if (flag == "--value-bytes") {
      options.value_bytes = static_cast<size_t>(Number(flag, value));
    } else if (flag == "--keys") {
      options.keys = static_cast<int64_t>(Number(flag, value));
    } else if (flag == "--rate") {
      options.rate = Number(flag, value);
    } else if (flag == "--fill-mb") {
      options.fill_mb = static_cast<uint64_t>(Number(flag, value));
    } else if (flag == "--seconds") {
      options.seconds = Number(flag, value);
    } else if (flag == "--writes") {
      options.writes = static_cast<int64_t>(Number(flag, value));
    } else if (flag == "--compact-every") {
      options.compact_every = static_cast<int64_t>(Number(flag, value));
    } else if (flag == "--latency-out") {
      options.latency_out = value;
    } else if (flag == "--state-out") {
      options.state_out = value;
    } else {
      Usage("unknown option " + flag);
    }
  }
  if (options.db.empty()) Usage("--db is required");
  if (options.keys < 1) Usage("--keys must be at least 1");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  struct sigaction action {};
  action.sa_handler = [](int) { stop_requested = 1; };
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  try {
    Writer writer(options);
    int status = 0;
    try {
      writer.Run();
    } catch (const Failure& e) {
      std::fprintf(stderr, "kine-writer: %s\n", e.what());
      status = 1;
    }
    writer.WriteOutputs();
    return status;
  } catch (const Failure& e) {
    std::fprintf(stderr, "kine-writer: %s\n", e.what());
    return 1;
  }
}
