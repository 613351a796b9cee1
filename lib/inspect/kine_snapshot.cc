// KineSnapshot: kine's table read with libsqlite3, as kine's own queries read it (its revSQL,
// compactRevSQL and the newest-row-per-name join of its list queries).
#include "inspect/kine_snapshot.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "core/error.h"
#include "datastore/sqlite_copy.h"

namespace snapd {
namespace {

// The newest row of each name in a range, unless it deletes the name; kine's bookkeeping rows
// are no keys. {range} is filled in per query.
constexpr std::string_view kLiveSql =
    "SELECT kv.name, kv.created, kv.create_revision, kv.id, kv.lease, kv.value FROM kine AS kv "
    "JOIN (SELECT MAX(mkv.id) AS id FROM kine AS mkv WHERE {range} GROUP BY mkv.name) AS maxkv "
    "ON maxkv.id = kv.id "
    "WHERE kv.deleted = 0 AND kv.name != 'compact_rev_key' AND substr(kv.name, 1, 4) != 'gap-'";

// The smallest string greater than every string starting with `prefix`; "" when there is none
// (the prefix is all 0xff bytes).
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

ErrorKind KindOf(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
      return ErrorKind::kCorrupt;
    case SQLITE_NOMEM:
    case SQLITE_BUSY:
      return ErrorKind::kTransient;
    default:
      return ErrorKind::kPermanent;
  }
}

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& where)
      : db_(db), where_(where) {
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s_, nullptr);
    if (rc != SQLITE_OK) Fail(rc, "prepare");
  }
  ~Statement() { sqlite3_finalize(s_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return s_; }
  void BindText(int index, std::string_view text) {
    sqlite3_bind_text(s_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  // True while there is a row.
  bool Step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) Fail(rc, "read");
    return false;
  }
  int64_t Int(int column) const { return sqlite3_column_int64(s_, column); }
  std::string Bytes(int column) const {
    const void* data = sqlite3_column_blob(s_, column);
    const int size = sqlite3_column_bytes(s_, column);
    return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
  }

 private:
  [[noreturn]] void Fail(int rc, const char* what) const {
    throw Error(KindOf(rc), where_ + ": " + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  const std::string& where_;
};

int64_t QueryInt(sqlite3* db, const std::string& sql, const std::string& where) {
  Statement statement(db, sql, where);
  return statement.Step() ? statement.Int(0) : 0;
}

}  // namespace

KineSnapshot::KineSnapshot(const std::string& path) : where_("kine snapshot " + path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw Error::NotFound(where_ + ": no such file");
    ThrowSystemError(where_, errno);
  }
  // immutable: no locks and no -wal or -shm beside the file, which nobody writes (a snapshot).
  const int rc =
      sqlite3_open_v2(SqliteFileUri(path, "mode=ro&immutable=1").c_str(), &db_,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    throw Error(KindOf(rc), where_ + ": open: " + message);
  }
  // The file may come from anywhere: its schema gets to describe tables, nothing more.
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  try {
    if (QueryInt(db_, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'kine'",
                 where_) == 0) {
      throw Error::Corrupt(where_ + ": no table kine: not a kine database");
    }
    revision_ = QueryInt(db_, "SELECT IFNULL(MAX(id), 0) FROM kine", where_);
    compact_revision_ = QueryInt(
        db_, "SELECT IFNULL(MAX(prev_revision), 0) FROM kine WHERE name = 'compact_rev_key'",
        where_);
    rows_ = static_cast<uint64_t>(QueryInt(db_, "SELECT count(*) FROM kine", where_));
  } catch (...) {
    sqlite3_close_v2(db_);
    throw;
  }
}

KineSnapshot::~KineSnapshot() {
  sqlite3_close_v2(db_);
}

std::vector<KineSnapshot::Row> KineSnapshot::Query(std::string_view prefix, bool exact) const {
  std::string sql(kLiveSql);
  const std::string end = PrefixEnd(prefix);
  std::string range = "1";
  if (exact) {
    range = "mkv.name = ?1";
  } else if (!prefix.empty()) {
    range = end.empty() ? "mkv.name >= ?1" : "mkv.name >= ?1 AND mkv.name < ?2";
  }
  sql.replace(sql.find("{range}"), 7, range);
  Statement statement(db_, sql, where_);
  if (exact || !prefix.empty()) statement.BindText(1, prefix);
  if (!exact && !prefix.empty() && !end.empty()) statement.BindText(2, end);
  std::vector<Row> rows;
  while (statement.Step()) {
    Row row;
    row.key = statement.Bytes(0);
    const int64_t id = statement.Int(3);
    const int64_t create_revision = statement.Int(2);
    row.create_revision = statement.Int(1) != 0 || create_revision == 0 ? id : create_revision;
    row.mod_revision = id;
    row.lease = statement.Int(4);
    row.value = statement.Bytes(5);
    rows.push_back(std::move(row));
  }
  // In byte order whatever storage class a name has (SQLite orders TEXT before BLOB).
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
  return rows;
}

void KineSnapshot::ForEachLive(std::string_view prefix, bool exact,
                               const std::function<void(const LiveKey&)>& visit) const {
  const std::vector<Row>* rows = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto key = std::make_pair(std::string(prefix), exact);
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(std::move(key), Query(prefix, exact)).first;
    rows = &it->second;  // never changed once stored: safe to read unlocked
  }
  for (const Row& row : *rows) {
    LiveKey live;
    live.key = row.key;
    live.value = row.value;
    live.create_revision = row.create_revision;
    live.mod_revision = row.mod_revision;
    live.lease = row.lease;
    visit(live);
  }
}

std::optional<KvHash> KineSnapshot::HashKV(int64_t) const {
  return std::nullopt;
}

}  // namespace snapd
