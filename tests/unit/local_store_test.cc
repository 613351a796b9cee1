// Tests of lib/store/local_store (in a temp dir per test, laid out as k3s lays out its snapshot
// dir) and lib/backup/job_runner (one job at a time, states, cancel on shutdown).
#include <catch2/catch.hpp>

#include "require_error.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/job_runner.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/file_descriptor.h"
#include "store/journal_dir.h"
#include "store/local_store.h"
#include "store_increment_suite.h"

using namespace snapd;
namespace fs = std::filesystem;

namespace {

// `<tmp>/server/db/snapshots` as the snapshot dir, removed with everything under it.
class TempDataDir {
 public:
  TempDataDir() {
    std::string pattern = (fs::temp_directory_path() / "snapd-store-test.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    root = pattern;
    snapshots = root + "/server/db/snapshots";
    metadata = root + "/server/db/.metadata";
  }
  ~TempDataDir() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  std::string root;
  std::string snapshots;
  std::string metadata;
};

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& body) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << body;
  REQUIRE(out.good());
}

void SetMtime(const std::string& path, time_t when) {
  struct timespec times[2] = {{when, 0}, {when, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::vector<std::string> Names(const std::vector<SnapshotRecord>& records) {
  std::vector<std::string> names;
  for (const auto& r : records) names.push_back(r.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<SnapshotRecord> Find(const std::vector<SnapshotRecord>& records,
                                   const std::string& name) {
  for (const auto& r : records) {
    if (r.name == name) return r;
  }
  return std::nullopt;
}

SnapshotRecord SaveRecord(const std::string& bytes) {
  SnapshotRecord r;
  r.node = "server-1";
  r.sha256 = Sha256::HexOf(bytes);
  r.created_at = 1700000000;
  r.token_hash = "5e884898da28";
  return r;
}

// Saves `bytes` as `name` in `store` in a few writes; returns the committed record.
SnapshotRecord Save(LocalStore& store, const std::string& name, const std::string& bytes) {
  auto writer = store.Create(name);
  for (size_t pos = 0; pos < bytes.size(); pos += 1000) {
    writer->Write(std::string_view(bytes).substr(pos, 1000));
  }
  return writer->Commit(SaveRecord(bytes));
}

std::string ReadAll(ByteSource& source) {
  std::string out;
  char buf[777];
  while (size_t n = source.Read(buf, sizeof buf)) out.append(buf, n);
  return out;
}

class FixedClock final : public Clock {
 public:
  SystemTime Now() const override { return SystemTime(std::chrono::seconds(1700000000)); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// LocalStore

TEST_CASE("Prepare makes the snapshot and metadata dirs private even with umask 0", "[store]") {
  TempDataDir tmp;
  UmaskGuard umask(0);
  LocalStore store(tmp.snapshots + "/", "server-1");  // a trailing slash changes nothing
  store.Prepare();
  CHECK(ModeOf(tmp.snapshots) == 0700);
  CHECK(ModeOf(tmp.metadata) == 0700);
  CHECK(store.MetadataPathOf("x") == tmp.metadata + "/x");
  store.Prepare();  // again: nothing to do, no error
  CHECK(ModeOf(tmp.snapshots) == 0700);

  // A file where the dir should be is refused, naming the path.
  TempDataDir other;
  fs::create_directories(other.root + "/server/db");
  WriteFile(other.snapshots, "not a dir");
  LocalStore broken(other.snapshots, "server-1");
  RequireError([&] { broken.Prepare(); }, ErrorKind::kInvalidInput, other.snapshots);
}

TEST_CASE("a snapshot dir symlinked to a directory elsewhere is usable", "[store]") {
  TempDataDir tmp;
  fs::create_directories(tmp.root + "/server/db");
  fs::create_directories(tmp.root + "/bigdisk/snapshots");
  fs::create_directory_symlink(tmp.root + "/bigdisk/snapshots", tmp.snapshots);
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  Save(store, "etcd-snapshot-server-1-1700000000", "data");
  CHECK(ReadFile(tmp.root + "/bigdisk/snapshots/etcd-snapshot-server-1-1700000000") == "data");
  CHECK(Names(store.List()) == std::vector<std::string>{"etcd-snapshot-server-1-1700000000"});
}

TEST_CASE("Create, Write, Commit store a private file and its record", "[store]") {
  TempDataDir tmp;
  UmaskGuard umask(0);
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  const std::string name = "etcd-snapshot-server-1-1700000000";
  // Bigger than the writer's buffer, so both write paths run.
  const std::string bytes = RandomBytes((3 << 20) + 12345, 1);

  auto writer = store.Create(name);
  CHECK(Exists(tmp.snapshots + "/" + name + ".part"));
  CHECK(store.List().empty());  // nothing listed before Commit
  writer->Write(std::string_view(bytes).substr(0, 100));
  writer->Write(std::string_view(bytes).substr(100, 2 << 20));
  writer->Write(std::string_view(bytes).substr(100 + (2 << 20)));
  SnapshotRecord stored = writer->Commit(SaveRecord(bytes));
  writer.reset();

  const std::string path = tmp.snapshots + "/" + name;
  CHECK(ReadFile(path) == bytes);
  CHECK(ModeOf(path) == 0600);
  CHECK_FALSE(Exists(path + ".part"));
  CHECK(stored.name == name);
  CHECK(stored.storage == "local");
  CHECK(stored.location == "file://" + path);
  CHECK(stored.size == bytes.size());
  CHECK(stored.status == "ready");

  // The record, beside the dir as k3s keeps extra metadata: a flat JSON object of strings.
  const std::string record_path = tmp.metadata + "/" + name;
  REQUIRE(Exists(record_path));
  CHECK(ModeOf(record_path) == 0600);
  nlohmann::json record = nlohmann::json::parse(ReadFile(record_path));
  CHECK(record["sha256"] == Sha256::HexOf(bytes));
  CHECK(record["node"] == "server-1");
  // No temporary files left behind.
  CHECK(std::distance(fs::directory_iterator(tmp.metadata), fs::directory_iterator()) == 1);

  auto records = store.List();
  REQUIRE(records.size() == 1);
  const SnapshotRecord& r = records[0];
  CHECK(r.name == name);
  CHECK(r.size == bytes.size());
  CHECK(r.sha256 == Sha256::HexOf(bytes));
  CHECK(r.node == "server-1");
  CHECK(r.created_at == 1700000000);
  CHECK(r.token_hash == "5e884898da28");
  CHECK(r.status == "ready");
  CHECK(r.storage == "local");
  CHECK(r.location == "file://" + path);

  auto source = store.Open(name);
  CHECK(ReadAll(*source) == bytes);
}

// cachestat(2) (Linux 6.5, not yet in Debian 12's headers): the page-cache state of a file.
struct CacheStatRange {
  uint64_t off, len;
};
struct CacheStat {
  uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
constexpr long kSysCacheStat = 451;

TEST_CASE("a snapshot being written is handed to the disk as it streams", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  const std::string name = "etcd-snapshot-server-1-1700000000";
  const std::string bytes = RandomBytes((48 << 20) + 777, 2);
  auto writer = store.Create(name);
  // etcd's 32 KiB messages, with one piece bigger than the write buffer among them.
  std::string_view rest(bytes);
  for (size_t i = 0; !rest.empty(); ++i) {
    size_t n = std::min(rest.size(), i == 100 ? size_t(3 << 20) : size_t(32 << 10));
    writer->Write(rest.substr(0, n));
    rest.remove_prefix(n);
  }

  FileDescriptor fd(::open((tmp.snapshots + "/" + name + ".part").c_str(), O_RDONLY));
  REQUIRE(fd.get() >= 0);
  CacheStatRange range{0, 0};
  CacheStat stat{};
  struct statfs fs_info {};
  REQUIRE(::fstatfs(fd.get(), &fs_info) == 0);
  if (fs_info.f_type == TMPFS_MAGIC) {
    WARN(tmp.root << " is on tmpfs, which has no writeback: dirty pages not checked");
  } else if (::syscall(kSysCacheStat, fd.get(), &range, &stat, 0) != 0) {
    WARN("cachestat(2) unavailable (" << std::strerror(errno) << "): dirty pages not checked");
  } else {
    // Without writeback during the stream all 48 MiB would still be dirty here; with it, at
    // most two 8 MiB steps plus what the 1 MiB buffer flushed since, and the steps already on
    // disk are out of the cache too.
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    CHECK((stat.nr_dirty + stat.nr_writeback) * page <= (18u << 20));
    CHECK(stat.nr_cache * page <= (18u << 20));
  }
  fd.Reset();
  writer->Commit(SaveRecord(bytes));
  writer.reset();
  CHECK(ReadFile(tmp.snapshots + "/" + name) == bytes);
}

TEST_CASE("the record's node and time win over the store's defaults", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "this-node");
  store.Prepare();
  auto writer = store.Create("my_backup.zst");
  writer->Write("abc");
  SnapshotRecord r = SaveRecord("abc");
  r.node = "other-node";
  r.created_at = 1600000000;
  writer->Commit(r);
  auto listed = Find(store.List(), "my_backup.zst");
  REQUIRE(listed);
  CHECK(listed->node == "other-node");
  CHECK(listed->created_at == 1600000000);
  CHECK(listed->compressed);
}

TEST_CASE("Create refuses a taken or unsafe name", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  Save(store, "on-demand-server-1-1700000000", "first");
  RequireError([&] { store.Create("on-demand-server-1-1700000000"); }, ErrorKind::kConflict,
               "already exists");
  // Being written by someone else.
  auto writer = store.Create("on-demand-server-1-1700000001");
  RequireError([&] { store.Create("on-demand-server-1-1700000001"); }, ErrorKind::kConflict,
               "on-demand-server-1-1700000001");
  // Taken between Create and Commit: Commit refuses, the first file survives.
  auto late = store.Create("on-demand-server-1-1700000002");
  late->Write("late");
  WriteFile(tmp.snapshots + "/on-demand-server-1-1700000002", "someone else's");
  RequireError([&] { late->Commit(SaveRecord("late")); }, ErrorKind::kConflict, "already exists");
  late.reset();
  CHECK(ReadFile(tmp.snapshots + "/on-demand-server-1-1700000002") == "someone else's");
  CHECK_FALSE(Exists(tmp.snapshots + "/on-demand-server-1-1700000002.part"));
  CHECK_FALSE(Exists(tmp.metadata + "/on-demand-server-1-1700000002"));
  CHECK(ReadFile(tmp.snapshots + "/on-demand-server-1-1700000000") == "first");

  for (std::string bad : {"", "../escape", "a/b", ".hidden", "x.part"}) {
    INFO(bad);
    CHECK_THROWS_AS(store.Create(bad), Error);
  }
  CHECK_FALSE(Exists(tmp.root + "/server/db/escape.part"));
}

TEST_CASE("a writer dropped without Commit leaves nothing", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  {
    auto writer = store.Create("etcd-snapshot-server-1-1700000000");
    writer->Write(RandomBytes(5000, 2));
  }
  {
    auto writer = store.Create("etcd-snapshot-server-1-1700000001");
    writer->Write("x");
    writer->Abort();
    writer->Abort();  // twice is fine
  }
  CHECK(fs::is_empty(tmp.snapshots));
  CHECK(fs::is_empty(tmp.metadata));
  CHECK(store.List().empty());
  // The name is free again.
  Save(store, "etcd-snapshot-server-1-1700000000", "ok");
  CHECK(store.List().size() == 1);
}

TEST_CASE("List shows only finished regular files", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  Save(store, "etcd-snapshot-server-1-1700000000", "good");
  WriteFile(tmp.snapshots + "/etcd-snapshot-server-1-1700000100.part", "half");
  WriteFile(tmp.snapshots + "/.hidden", "dot");
  fs::create_directory(tmp.snapshots + "/etcd-snapshot-server-1-1700000200");
  WriteFile(tmp.root + "/outside", "secret");
  fs::create_symlink(tmp.root + "/outside", tmp.snapshots + "/etcd-snapshot-server-1-1700000300");
  fs::create_symlink(tmp.root + "/nowhere", tmp.snapshots + "/dangling");
  REQUIRE(::mkfifo((tmp.snapshots + "/fifo").c_str(), 0600) == 0);
  CHECK(Names(store.List()) == std::vector<std::string>{"etcd-snapshot-server-1-1700000000"});

  // Nor can they be opened or removed as snapshots.
  RequireError([&] { store.Open("etcd-snapshot-server-1-1700000300"); }, ErrorKind::kNotFound,
               "symlink");
  RequireError([&] { store.Open("fifo"); }, ErrorKind::kNotFound, "regular file");
  RequireError([&] { store.Open("etcd-snapshot-server-1-1700000200"); }, ErrorKind::kNotFound,
               "regular file");
  RequireError([&] { store.Open("missing"); }, ErrorKind::kNotFound, "missing");
  RequireError([&] { store.Remove("etcd-snapshot-server-1-1700000300"); }, ErrorKind::kNotFound,
               "etcd-snapshot-server-1-1700000300");
  CHECK(ReadFile(tmp.root + "/outside") == "secret");
  CHECK(Exists(tmp.snapshots + "/etcd-snapshot-server-1-1700000300"));
}

TEST_CASE("List of a missing dir is empty", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  CHECK(store.List().empty());
  CHECK(store.RemoveIncomplete() == 0);
}

TEST_CASE("Remove deletes the file and its record", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  Save(store, "etcd-snapshot-server-1-1700000000", "one");
  Save(store, "etcd-snapshot-server-1-1700000001", "two");
  store.Remove("etcd-snapshot-server-1-1700000000");
  CHECK_FALSE(Exists(tmp.snapshots + "/etcd-snapshot-server-1-1700000000"));
  CHECK_FALSE(Exists(tmp.metadata + "/etcd-snapshot-server-1-1700000000"));
  CHECK(Names(store.List()) == std::vector<std::string>{"etcd-snapshot-server-1-1700000001"});
  RequireError([&] { store.Remove("etcd-snapshot-server-1-1700000000"); }, ErrorKind::kNotFound,
               "etcd-snapshot-server-1-1700000000");
  RequireError([&] { store.Remove("../snapshots/etcd-snapshot-server-1-1700000001"); },
               ErrorKind::kInvalidInput, "snapshot name");
  // A k3s snapshot without a record is removed all the same.
  WriteFile(tmp.snapshots + "/on-demand-server-1-1700000005", "k3s");
  store.Remove("on-demand-server-1-1700000005");
  CHECK_FALSE(Exists(tmp.snapshots + "/on-demand-server-1-1700000005"));
}

TEST_CASE("a token backup is stored with its snapshot and goes with it", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  const std::string name = "etcd-snapshot-server-1-1700000000.age";
  const std::string token_path = tmp.metadata + "/" + name + ".token.age";
  auto writer = store.Create(name);
  writer->Write("sealed snapshot");
  writer->SetTokenBackup("sealed token");
  SnapshotRecord stored = writer->Commit(SaveRecord("sealed snapshot"));
  CHECK(stored.token_backup);
  CHECK(stored.encrypted);
  CHECK(store.ReadTokenBackup(name) == "sealed token");
  struct stat st;
  REQUIRE(::stat(token_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // Listed once, as the snapshot's record says, and never as a snapshot of its own.
  auto listed = store.List();
  CHECK(Names(listed) == std::vector<std::string>{name});
  CHECK(listed[0].token_backup);
  // Without one, reading says so.
  Save(store, "etcd-snapshot-server-1-1700000001", "plain");
  RequireError([&] { store.ReadTokenBackup("etcd-snapshot-server-1-1700000001"); },
               ErrorKind::kNotFound, "no saved token");
  store.Remove(name);
  CHECK_FALSE(Exists(token_path));

  // An abandoned save takes its token backup with it.
  {
    auto dropped = store.Create("etcd-snapshot-server-1-1700000002.age");
    dropped->Write("x");
    dropped->SetTokenBackup("t");
  }
  CHECK_FALSE(Exists(tmp.metadata + "/etcd-snapshot-server-1-1700000002.age.token.age"));

  // A token left by a crash before its snapshot's rename is swept once stale.
  const std::string orphan = tmp.metadata + "/etcd-snapshot-server-1-1700000003.age.token.age";
  WriteFile(orphan, "t");
  CHECK(store.RemoveIncomplete() == 0);  // fresh: a save may be finishing
  SetMtime(orphan, ::time(nullptr) - LocalStore::kPartGraceSeconds - 60);
  CHECK(store.RemoveIncomplete() == 1);
  CHECK_FALSE(Exists(orphan));
}

TEST_CASE("RemoveIncomplete removes only stale, unlocked leftovers of ours", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  const time_t old = ::time(nullptr) - LocalStore::kPartGraceSeconds - 60;
  const std::string stale = tmp.snapshots + "/etcd-snapshot-server-1-1700000000.part";
  const std::string fresh = tmp.snapshots + "/etcd-snapshot-server-1-1700000001.part";
  WriteFile(stale, "stale");
  SetMtime(stale, old);
  WriteFile(fresh, "fresh");  // may be a k3s save in progress

  // A live writer of ours, its .part made to look old: the lock spares it.
  auto live = store.Create("etcd-snapshot-server-1-1700000002");
  live->Write("live");
  const std::string live_part = tmp.snapshots + "/etcd-snapshot-server-1-1700000002.part";
  SetMtime(live_part, old);

  // A .part locked by another writer process (an open file description with flock).
  const std::string locked = tmp.snapshots + "/etcd-snapshot-server-1-1700000003.part";
  WriteFile(locked, "locked");
  SetMtime(locked, old);
  int lock_fd = ::open(locked.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(lock_fd >= 0);
  REQUIRE(::flock(lock_fd, LOCK_EX) == 0);

  // A directory and a symlink that merely end in .part.
  fs::create_directory(tmp.snapshots + "/dir.part");
  WriteFile(tmp.root + "/victim", "keep me");
  fs::create_symlink(tmp.root + "/victim", tmp.snapshots + "/link.part");
  SetMtime(tmp.snapshots + "/link.part", old);

  // Records: an orphan of ours, one whose save is still a .part, a k3s extra-metadata file
  // with no snapshot, and a stale and a fresh temporary record.
  Save(store, "etcd-snapshot-server-1-1700000009", "kept");
  const std::string ours = ReadFile(tmp.metadata + "/etcd-snapshot-server-1-1700000009");
  WriteFile(tmp.metadata + "/orphan", ours);
  WriteFile(tmp.metadata + "/etcd-snapshot-server-1-1700000000", ours);  // its .part is stale
  WriteFile(tmp.metadata + "/etcd-snapshot-server-1-1700000002", ours);  // still being written
  WriteFile(tmp.metadata + "/k3s-extra", R"({"cluster":"prod"})");
  WriteFile(tmp.metadata + "/.orphan.tmp", "half a record");
  SetMtime(tmp.metadata + "/.orphan.tmp", old);
  WriteFile(tmp.metadata + "/.being-written.tmp", "half a record");

  int removed = store.RemoveIncomplete();

  CHECK_FALSE(Exists(stale));
  CHECK(Exists(fresh));
  CHECK(Exists(live_part));
  CHECK(Exists(locked));
  CHECK(Exists(tmp.snapshots + "/dir.part"));
  CHECK(Exists(tmp.snapshots + "/link.part"));
  CHECK(ReadFile(tmp.root + "/victim") == "keep me");
  CHECK_FALSE(Exists(tmp.metadata + "/orphan"));
  CHECK(Exists(tmp.metadata + "/etcd-snapshot-server-1-1700000002"));
  CHECK(Exists(tmp.metadata + "/etcd-snapshot-server-1-1700000009"));
  CHECK(Exists(tmp.metadata + "/k3s-extra"));
  CHECK_FALSE(Exists(tmp.metadata + "/.orphan.tmp"));
  CHECK(Exists(tmp.metadata + "/.being-written.tmp"));
  // The stale .part went first, so its record is an orphan by the time records are checked.
  CHECK_FALSE(Exists(tmp.metadata + "/etcd-snapshot-server-1-1700000000"));
  CHECK(removed == 4);

  // Once the lock is gone the old .part is a leftover too; the live writer still commits.
  ::close(lock_fd);
  CHECK(store.RemoveIncomplete() == 1);
  CHECK_FALSE(Exists(locked));
  live->Commit(SaveRecord("live"));
  CHECK(ReadFile(tmp.snapshots + "/etcd-snapshot-server-1-1700000002") == "live");
  CHECK(Names(store.List()) == std::vector<std::string>{"etcd-snapshot-server-1-1700000002",
                                                        "etcd-snapshot-server-1-1700000009"});
}

TEST_CASE("after a crash, our own .part goes at once and another process's fresh one stays",
          "[store]") {
  TempDataDir tmp;
  const std::string journal_dir = tmp.root + "/state/local-saves";
  const std::string ours = tmp.snapshots + "/etcd-snapshot-server-1-1700000001.part";
  const std::string held = tmp.snapshots + "/etcd-snapshot-server-1-1700000002.part";
  const std::string theirs = tmp.snapshots + "/etcd-snapshot-server-1-1700000003.part";
  {
    // A writer notes its .part in the journal before making it, and drops the note with it.
    JournalDir journal(journal_dir);
    LocalStore store(tmp.snapshots, "server-1", &journal);
    store.Prepare();
    auto writer = store.Create("etcd-snapshot-server-1-1700000001");
    CHECK(ReadFile(journal_dir + "/etcd-snapshot-server-1-1700000001") == ours);
    writer->Write("half a snapshot");
  }
  CHECK(fs::is_empty(journal_dir));
  // What a kill of the process leaves instead: the files and their notes.
  JournalDir dead(journal_dir);
  dead.Write("etcd-snapshot-server-1-1700000001", ours);
  dead.Write("etcd-snapshot-server-1-1700000002", held);
  WriteFile(ours, "half a snapshot");
  WriteFile(held, "still written by someone");
  const int lock_fd = ::open(held.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(lock_fd >= 0);
  REQUIRE(::flock(lock_fd, LOCK_EX) == 0);
  WriteFile(theirs, "k3s writing");  // no entry: maybe k3s or etcdctl, within its grace

  JournalDir journal(journal_dir);  // the restarted process
  LocalStore store(tmp.snapshots, "server-1", &journal);
  auto live = store.Create("etcd-snapshot-server-1-1700000004");  // a save of its own
  live->Write("live");
  CHECK(store.RemoveIncomplete() == 1);
  CHECK_FALSE(Exists(ours));  // fresh, but ours: no grace period
  CHECK(Exists(held));        // a writer holds it: the flock stays the guard
  CHECK(Exists(theirs));
  CHECK(Exists(tmp.snapshots + "/etcd-snapshot-server-1-1700000004.part"));
  CHECK_FALSE(Exists(journal_dir + "/etcd-snapshot-server-1-1700000001"));
  CHECK(Exists(journal_dir + "/etcd-snapshot-server-1-1700000002"));  // tried again later

  ::close(lock_fd);
  CHECK(store.RemoveIncomplete() == 1);
  CHECK_FALSE(Exists(held));
  CHECK(Exists(theirs));
  live->Commit(SaveRecord("live"));
  CHECK_FALSE(Exists(journal_dir + "/etcd-snapshot-server-1-1700000004"));
  auto aborted = store.Create("etcd-snapshot-server-1-1700000005");
  aborted->Abort();
  CHECK(fs::is_empty(journal_dir));
}

TEST_CASE("a journal entry that names no .part of its snapshot is dropped untouched", "[store]") {
  TempDataDir tmp;
  const std::string journal_dir = tmp.root + "/state/local-saves";
  LocalStore plain(tmp.snapshots, "server-1");
  plain.Prepare();
  WriteFile(tmp.root + "/victim", "keep me");
  JournalDir({journal_dir}).Write("etcd-snapshot-server-1-1700000001", tmp.root + "/victim");
  JournalDir journal(journal_dir);
  LocalStore store(tmp.snapshots, "server-1", &journal);
  CHECK(store.RemoveIncomplete() == 0);
  CHECK(ReadFile(tmp.root + "/victim") == "keep me");
  CHECK(fs::is_empty(journal_dir));
}

TEST_CASE("a snapshot changed after Commit is listed as failed", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  const std::string name = "etcd-snapshot-server-1-1700000000";
  Save(store, name, RandomBytes(4096, 3));
  REQUIRE(::truncate((tmp.snapshots + "/" + name).c_str(), 1000) == 0);
  auto r = Find(store.List(), name);
  REQUIRE(r);
  CHECK(r->status == "failed");
  CHECK(r->size == 1000);
  CHECK_THAT(r->error, Catch::Contains("1000") && Catch::Contains("4096"));
}

TEST_CASE("k3s-made snapshots without a record are listed", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  WriteFile(tmp.snapshots + "/etcd-snapshot-server-1-1700000000", "k3s data");
  WriteFile(tmp.snapshots + "/on-demand-server-1-1700000100.zip", "zipped");
  WriteFile(tmp.snapshots + "/manual", "no time in name");
  SetMtime(tmp.snapshots + "/manual", 1650000000);
  // k3s's own extra-metadata file for one of them is not our record: ignored, not an error.
  WriteFile(tmp.metadata + "/on-demand-server-1-1700000100.zip", R"({"cluster":"prod"})");
  auto records = store.List();
  REQUIRE(records.size() == 3);

  auto k3s = Find(records, "etcd-snapshot-server-1-1700000000");
  REQUIRE(k3s);
  CHECK(k3s->created_at == 1700000000);
  CHECK(k3s->node == "server-1");
  CHECK(k3s->size == 8);
  CHECK(k3s->sha256.empty());
  CHECK(k3s->status == "ready");
  CHECK_FALSE(k3s->compressed);

  auto zip = Find(records, "on-demand-server-1-1700000100.zip");
  REQUIRE(zip);
  CHECK(zip->created_at == 1700000100);
  CHECK(zip->compressed);
  CHECK(zip->status == "ready");

  auto manual = Find(records, "manual");
  REQUIRE(manual);
  CHECK(manual->created_at == 1650000000);  // from the file time, as k3s does
}

TEST_CASE("a relative snapshot dir keeps its metadata beside it", "[store]") {
  LocalStore store("snapshots", "server-1");
  CHECK(store.MetadataPathOf("x") == "./.metadata/x");
  LocalStore nested("db/snapshots", "server-1");
  CHECK(nested.MetadataPathOf("x") == "db/.metadata/x");
}

// ---------------------------------------------------------------------------------------------
// LocalStore's increments: the shared suite, then where they land

TEST_CASE("increments: put, list and read back binary bytes", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  CHECK(store.ListIncrements().empty());  // no metadata dir yet
  store.Prepare();
  increment_suite::CheckRoundTrip(store);
}

TEST_CASE("increments: a replaced increment is never seen half written", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  increment_suite::CheckOverwriteIsAtomic(store, 40);
  // Nothing of the replacing writes is left behind.
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(tmp.metadata)) {
    entries.push_back(entry.path().filename().string());
  }
  CHECK(entries == store.ListIncrements());
}

TEST_CASE("increments: names that are not an increment's are refused", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  WriteFile(tmp.root + "/server/db/escape.inc", "outside");
  increment_suite::CheckInvalidNames(store);
  CHECK(ReadFile(tmp.root + "/server/db/escape.inc") == "outside");
  CHECK(fs::is_empty(tmp.metadata));
}

TEST_CASE("increments: Remove takes its snapshot's increments only", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  increment_suite::CheckRemoveTakesItsIncrements(store);
}

TEST_CASE("increments: RemoveMany takes its snapshots' increments only", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  increment_suite::CheckRemoveManyTakesTheirIncrements(store);
}

TEST_CASE("increments: kept private in .metadata, never listed or swept as snapshots", "[store]") {
  TempDataDir tmp;
  LocalStore store(tmp.snapshots, "server-1");
  store.Prepare();
  increment_suite::CheckListIgnoresIncrements(store);
  // Where k3s never looks: beside the records, not in the snapshot dir it walks.
  const std::string name = "etcd-snapshot-n1-17.1-5-100.inc";
  CHECK(ReadFile(tmp.metadata + "/" + name) == "increment " + name);
  CHECK(ModeOf(tmp.metadata + "/" + name) == 0600);
  for (const auto& entry : fs::recursive_directory_iterator(tmp.snapshots)) {
    CHECK_THAT(entry.path().string(), !Catch::Contains(".inc"));
  }
  // Old ones are no leftovers of a save, whether their snapshot is there or not.
  const size_t count = store.ListIncrements().size();
  for (const std::string& increment : store.ListIncrements()) {
    SetMtime(tmp.metadata + "/" + increment, ::time(nullptr) - 3600);
  }
  CHECK(store.RemoveIncomplete() == 0);
  CHECK(store.ListIncrements().size() == count);
  // Symlinks, directories and temp files of half-written ones are not listed or read.
  WriteFile(tmp.root + "/outside", "secret");
  fs::create_symlink(tmp.root + "/outside", tmp.metadata + "/link.1-2-3.inc");
  fs::create_directory(tmp.metadata + "/dir.1-2-3.inc");
  WriteFile(tmp.metadata + "/.tmp.1-2-3.inc.tmp", "half");
  CHECK(store.ListIncrements().size() == count);
  RequireError([&] { store.ReadIncrement("link.1-2-3.inc"); }, ErrorKind::kNotFound, "symlink");
  RequireError([&] { store.ReadIncrement("dir.1-2-3.inc"); }, ErrorKind::kNotFound, "regular file");
}

// ---------------------------------------------------------------------------------------------
// JobRunner

namespace {

// A gate the test opens to let a job finish.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  bool entered = false;
  void Open() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
  void Enter() {
    std::unique_lock lock(mutex);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void WaitEntered() {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return entered; }));
  }
};

}  // namespace

TEST_CASE("Start runs the job on another thread and records success", "[store]") {
  FixedClock clock;
  JobRunner runner(clock);
  Gate gate;
  std::thread::id job_thread;
  uint64_t id = runner.Start("save", [&](JobContext& context) {
    job_thread = std::this_thread::get_id();
    context.SetSnapshot("on-demand-n1-1700000000");
    context.AddBytes(100);
    context.AddBytes(23);
    SnapshotRecord r;
    r.name = "on-demand-n1-1700000000";
    context.AddRecord(r);
    gate.Enter();
  });
  gate.WaitEntered();
  auto running = runner.Running();
  REQUIRE(running);
  CHECK(running->id == id);
  CHECK(running->state == "running");
  CHECK(running->snapshot == "on-demand-n1-1700000000");
  CHECK(running->bytes == 123);
  CHECK(running->started_at == 1700000000);

  // While it runs, nothing else may start, and the refusal names the running job.
  RequireError([&] { runner.Start("prune", [](JobContext&) {}); }, ErrorKind::kConflict,
               "save job " + std::to_string(id) + " (on-demand-n1-1700000000)");
  bool ran = false;
  RequireError([&] { runner.Run("delete", [&](JobContext&) { ran = true; }); },
               ErrorKind::kConflict, "save job");
  CHECK_FALSE(ran);
  auto still = runner.Wait(id, std::chrono::milliseconds(20));
  REQUIRE(still);
  CHECK(still->state == "running");

  gate.Open();
  auto done = runner.Wait(id, std::chrono::seconds(10));
  REQUIRE(done);
  CHECK(done->state == "succeeded");
  CHECK(done->error.empty());
  CHECK(done->finished_at == 1700000000);
  CHECK(done->records.size() == 1);
  CHECK(job_thread != std::this_thread::get_id());
  CHECK_FALSE(runner.Running());
  CHECK(runner.Get(id)->state == "succeeded");
  CHECK_FALSE(runner.Get(id + 100));
}

TEST_CASE("a failed job records its error and frees the slot", "[store]") {
  FixedClock clock;
  JobRunner runner(clock);
  uint64_t failed = runner.Start("scheduled-save", [](JobContext&) {
    throw Error::Transient("etcd snapshot stream: cut after 10 of 20 bytes");
  });
  auto state = runner.Wait(failed, std::chrono::seconds(10));
  REQUIRE(state);
  CHECK(state->state == "failed");
  CHECK(state->error == "etcd snapshot stream: cut after 10 of 20 bytes");

  // A non-standard exception neither kills the process nor keeps the slot.
  uint64_t odd = runner.Start("save", [](JobContext&) { throw 42; });
  state = runner.Wait(odd, std::chrono::seconds(10));
  REQUIRE(state);
  CHECK(state->state == "failed");
  CHECK_FALSE(state->error.empty());

  // Run: the caller's thread, error recorded and rethrown, slot freed either way.
  RequireError([&] { runner.Run("delete", [](JobContext&) { throw Error::NotFound("gone"); }); },
               ErrorKind::kNotFound, "gone");
  CHECK_THROWS_AS(runner.Run("delete", [](JobContext&) { throw 7; }), int);
  JobState ok = runner.Run("prune", [&](JobContext& c) {
    c.AddBytes(1);
    CHECK(runner.Running()->kind == "prune");
  });
  CHECK(ok.state == "succeeded");
  CHECK(ok.bytes == 1);

  auto last_failed = runner.LastFinished({"save", "scheduled-save"}, "failed");
  REQUIRE(last_failed);
  CHECK(last_failed->id == odd);
  auto last_delete = runner.LastFinished({"delete"}, "failed");
  REQUIRE(last_delete);
  CHECK_FALSE(last_delete->error.empty());
  CHECK(runner.LastFinished({"prune"}, "succeeded")->id == ok.id);
  CHECK_FALSE(runner.LastFinished({"prune"}, "failed"));
  CHECK_FALSE(runner.LastFinished({"restore"}, "succeeded"));
}

TEST_CASE("jobs run one after another, each in turn", "[store]") {
  FixedClock clock;
  JobRunner runner(clock);
  std::atomic<int> count{0};
  std::vector<uint64_t> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(runner.Start("save", [&](JobContext&) { ++count; }));
    REQUIRE(runner.Wait(ids.back(), std::chrono::seconds(10))->state == "succeeded");
  }
  CHECK(count == 20);
  for (size_t i = 1; i < ids.size(); ++i) CHECK(ids[i] > ids[i - 1]);
}

TEST_CASE("Shutdown cancels the running job, waits, and refuses new ones", "[store]") {
  FixedClock clock;
  JobRunner runner(clock);
  std::atomic<bool> saw_cancel{false};
  std::atomic<bool> started{false};
  uint64_t id = runner.Start("save", [&](JobContext& context) {
    started = true;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!context.cancel()->load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    saw_cancel = context.cancel()->load();
    if (saw_cancel) throw Error::Cancelled("save cancelled");
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  runner.Shutdown();
  CHECK(saw_cancel);
  auto state = runner.Get(id);
  REQUIRE(state);
  CHECK(state->state == "failed");
  CHECK(state->error == "save cancelled");
  RequireError([&] { runner.Start("save", [](JobContext&) {}); }, ErrorKind::kCancelled,
               "shutting down");
  RequireError([&] { runner.Run("delete", [](JobContext&) {}); }, ErrorKind::kCancelled,
               "shutting down");
  runner.Shutdown();  // twice is fine
}

TEST_CASE("a new job does not inherit an old cancel", "[store]") {
  FixedClock clock;
  JobRunner runner(clock);
  bool cancelled = true;
  runner.Run("prune", [&](JobContext& c) { cancelled = c.cancel()->load(); });
  CHECK_FALSE(cancelled);
}

TEST_CASE("a save cancels a running verify instead of being refused", "[store]") {
  const std::string reader = GENERATE("verify", "inspect", "get", "diff");
  INFO(reader);
  FixedClock clock;
  JobRunner runner(clock);
  std::atomic<bool> verifying{false};
  uint64_t verify = runner.Start(reader, [&](JobContext& c) {
    verifying = true;
    while (!c.cancel()->load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    throw Error::Cancelled("reading the snapshot was cancelled");
  });
  while (!verifying) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  bool save_saw_cancel = true;
  JobState save =
      runner.Run("scheduled-save", [&](JobContext& c) { save_saw_cancel = c.cancel()->load(); });
  CHECK(save.state == "succeeded");
  CHECK_FALSE(save_saw_cancel);
  CHECK(runner.Get(verify)->state == "failed");
  CHECK_THAT(runner.Get(verify)->error, Catch::Contains("cancelled"));

  // Anything else still waits its turn: a prune is refused while a verify runs.
  std::atomic<bool> release{false};
  uint64_t blocking = runner.Start("verify", [&](JobContext&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  RequireError([&] { runner.Run("prune", [](JobContext&) {}); }, ErrorKind::kConflict,
               "another job is running: verify");
  release = true;
  // The job reads `release`, which goes out of scope before `runner` does (ASan found this).
  CHECK(runner.Wait(blocking, std::chrono::seconds(10))->state == "succeeded");
}

TEST_CASE("Cancel stops the running job only, and says so in its error", "[store]") {
  FixedClock clock;
  JobRunner runner(clock);
  std::atomic<bool> started{false};
  uint64_t id = runner.Start("save", [&](JobContext& c) {
    started = true;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!c.cancel()->load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (c.cancel()->load()) throw Error::Cancelled("etcd snapshot stream cancelled");
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(runner.Cancel(id).state == "running");
  JobState done = *runner.Wait(id, std::chrono::seconds(10));
  CHECK(done.state == "failed");
  CHECK(done.error == "cancelled on request: etcd snapshot stream cancelled");

  // Finished and unknown jobs cannot be cancelled; the next job starts uncancelled.
  RequireError([&] { runner.Cancel(id); }, ErrorKind::kConflict, "already failed");
  RequireError([&] { runner.Cancel(id + 100); }, ErrorKind::kNotFound, "not found");
  JobState next = runner.Run("save", [&](JobContext& c) { CHECK_FALSE(c.cancel()->load()); });
  CHECK(next.state == "succeeded");
  CHECK(next.error.empty());
  RequireError([&] { runner.Cancel(next.id); }, ErrorKind::kConflict, "already succeeded");
}
