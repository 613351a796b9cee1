// Tests of the state dir: its lock (lib/core/directory_lock), the journal of saves in progress
// (lib/store/journal_dir, upload_journal) read back as a restarted process would, and the
// periodic upkeep that acts on it (lib/backup/periodic_task). Each test in its own temp dir.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backup/periodic_task.h"
#include "core/directory_lock.h"
#include "core/durable_file.h"
#include "store/journal_dir.h"
#include "store/upload_journal.h"

using namespace snapd;
namespace fs = std::filesystem;

namespace {

class TempStateDir {
 public:
  TempStateDir() {
    std::string pattern = (fs::temp_directory_path() / "snapd-journal-test.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    root = pattern;
  }
  ~TempStateDir() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  std::string root;
};

std::string ReadFile(const std::string& path) {
  std::string text;
  REQUIRE(ReadSmallFile(path, text));
  return text;
}

SnapshotRecord SavedRecord(const std::string& name) {
  SnapshotRecord record;
  record.name = name;
  record.node = "node-a";
  record.storage = "s3";
  record.location = "s3://bucket/prod/" + name;
  record.size = 12345;
  record.sha256 = std::string(64, 'a');
  record.created_at = 1700000000;
  record.token_hash = "0123456789ab";
  record.token_backup = true;
  return record;
}

JournaledUpload Upload(const std::string& name, const std::string& id = "upload-1") {
  return {name, "bucket", "prod/" + name, id, std::nullopt};
}

}  // namespace

TEST_CASE("a state dir is made private and held by one process", "[journal]") {
  TempStateDir tmp;
  const std::string dir = tmp.root + "/var/lib/k3s-snapd";
  {
    DirectoryLock lock(dir);
    struct stat st;
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(ReadFile(dir + "/lock") == std::to_string(::getpid()) + "\n");
    // flock belongs to the open file: a second holder in this very process is refused too.
    RequireError([&] { DirectoryLock second(dir); }, ErrorKind::kConflict,
                 "state dir " + dir + " is in use by another k3s-snapd (pid " +
                     std::to_string(::getpid()) + ")");
  }
  DirectoryLock again(dir);  // released with its holder
  CHECK(again.dir() == dir);
  std::ofstream(tmp.root + "/file") << "x";
  RequireError([&] { DirectoryLock bad(tmp.root + "/file"); }, ErrorKind::kInvalidInput,
               "not a directory");
}

TEST_CASE("journal entries are written durably and removed", "[journal]") {
  TempStateDir tmp;
  const std::string dir = tmp.root + "/state/local-saves";
  JournalDir journal(dir);
  CHECK(journal.All().empty());  // nothing made before the first write
  CHECK_FALSE(fs::exists(dir));
  journal.Write("snap-1", "/snapshots/snap-1.part");
  journal.Write("snap-2", "/snapshots/snap-2.part");
  journal.Write("snap-1", "/snapshots/snap-1.part\n");  // replaced in place
  CHECK(ReadFile(dir + "/snap-1") == "/snapshots/snap-1.part\n");
  CHECK((fs::status(dir).permissions() & fs::perms::all) == fs::perms::owner_all);
  // Nothing but the entries: no temporary file is left by a write that returned.
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path().filename());
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{"snap-1", "snap-2"});
  CHECK(journal.All().size() == 2);
  CHECK(journal.Leftovers().empty());  // this object's own entries are never leftovers
  journal.Remove("snap-1");
  journal.Remove("snap-1");  // gone already: fine
  REQUIRE(journal.All().size() == 1);
  CHECK(journal.All()[0].name == "snap-2");
  RequireError([&] { journal.Write("../escape", "x"); }, ErrorKind::kInvalidInput, "escape");
  RequireError([&] { journal.Write(".hidden", "x"); }, ErrorKind::kInvalidInput, ".hidden");
}

TEST_CASE("a restarted process finds what the dead one journaled", "[journal]") {
  TempStateDir tmp;
  const std::string dir = tmp.root + "/uploads";
  {
    UploadJournal dead(dir);
    dead.Record(Upload("etcd-snapshot-a-1700000001"));
    JournaledUpload completing = Upload("etcd-snapshot-a-1700000002", "upload-2");
    completing.record = SavedRecord(completing.snapshot);
    dead.Record(completing);
    dead.Record(Upload("etcd-snapshot-a-1700000003", "upload-3"));
    dead.Remove("etcd-snapshot-a-1700000003");  // ended before the crash
  }
  // A write cut by the crash leaves only its temporary file.
  std::ofstream(dir + "/.etcd-snapshot-a-1700000004.json.tmp") << "{\"version\":";

  UploadJournal restarted(dir);
  restarted.Record(Upload("etcd-snapshot-a-1700000005", "upload-5"));  // a save of its own
  UploadLeftovers leftovers = restarted.Leftovers();
  CHECK(leftovers.problems.empty());
  REQUIRE(leftovers.uploads.size() == 2);
  const JournaledUpload& open = leftovers.uploads[0];
  CHECK(open.snapshot == "etcd-snapshot-a-1700000001");
  CHECK(open.bucket == "bucket");
  CHECK(open.key == "prod/etcd-snapshot-a-1700000001");
  CHECK(open.upload_id == "upload-1");
  CHECK_FALSE(open.record);
  const JournaledUpload& completing = leftovers.uploads[1];
  CHECK(completing.upload_id == "upload-2");
  REQUIRE(completing.record);
  CHECK(completing.record->size == 12345);
  CHECK(completing.record->sha256 == std::string(64, 'a'));
  CHECK(completing.record->node == "node-a");
  CHECK(completing.record->token_hash == "0123456789ab");
  CHECK(completing.record->token_backup);
  CHECK(completing.record->created_at == 1700000000);
  CHECK_FALSE(fs::exists(dir + "/.etcd-snapshot-a-1700000004.json.tmp"));
  // The periodic cleanup leaves every journaled upload alone, the running save's included.
  CHECK(restarted.All().size() == 3);
}

TEST_CASE("a corrupt journal entry is named and skipped", "[journal]") {
  TempStateDir tmp;
  const std::string dir = tmp.root + "/uploads";
  UploadJournal({dir}).Record(Upload("etcd-snapshot-a-1700000001"));
  fs::create_directories(dir);
  std::ofstream(dir + "/etcd-snapshot-a-1700000002.json") << "{\"version\": 1, \"snapsh";
  std::ofstream(dir + "/etcd-snapshot-a-1700000003.json")
      << R"({"version": 7, "snapshot": "etcd-snapshot-a-1700000003"})";
  std::ofstream(dir + "/etcd-snapshot-a-1700000004.json")
      << FormatJournaledUpload(Upload("etcd-snapshot-a-1700000009"));  // names another

  UploadLeftovers leftovers = UploadJournal(dir).Leftovers();
  REQUIRE(leftovers.uploads.size() == 1);
  CHECK(leftovers.uploads[0].snapshot == "etcd-snapshot-a-1700000001");
  REQUIRE(leftovers.problems.size() == 3);
  CHECK(leftovers.problems[0] == "upload journal entry " + dir +
                                     "/etcd-snapshot-a-1700000002.json is unreadable, skipped: "
                                     "not a JSON object");
  CHECK_THAT(leftovers.problems[1], Catch::Contains("unknown version (expected 1)"));
  CHECK_THAT(leftovers.problems[2], Catch::Contains("names snapshot etcd-snapshot-a-1700000009"));
  // Left for an operator to look at.
  CHECK(fs::exists(dir + "/etcd-snapshot-a-1700000002.json"));
  RequireError([] { ParseJournaledUpload(R"({"version":1,"snapshot":"s","bucket":"b"})"); },
               ErrorKind::kCorrupt, "missing or not a string: key");
}

TEST_CASE("the keeper journals an upload for as long as a crash would need it", "[journal]") {
  TempStateDir tmp;
  UploadJournal journal(tmp.root + "/uploads");
  const std::string name = "etcd-snapshot-a-1700000001";
  auto entries = [&] { return journal.All(); };

  SECTION("aborted: gone once the abort succeeded") {
    JournaledUploadKeeper keeper(&journal, Upload(name, ""));
    CHECK(entries().empty());  // nothing until the upload exists
    keeper.Created("upload-9");
    REQUIRE(entries().size() == 1);
    CHECK(entries()[0].upload_id == "upload-9");
    keeper.Ended();
    CHECK(entries().empty());
  }
  SECTION("committed: the entry holds the record while the object completes") {
    JournaledUploadKeeper keeper(&journal, Upload(name, ""));
    keeper.Created("upload-9");
    keeper.Completing(SavedRecord(name));
    keeper.Ended();  // CompleteMultipartUpload went through; the record is not stored yet
    REQUIRE(entries().size() == 1);
    CHECK(entries()[0].record->sha256 == std::string(64, 'a'));
    keeper.Committed();
    CHECK(entries().empty());
  }
  SECTION("a single PutObject is journaled only while it completes") {
    JournaledUploadKeeper keeper(&journal, Upload(name, ""));
    keeper.Completing(SavedRecord(name));
    REQUIRE(entries().size() == 1);
    CHECK(entries()[0].upload_id.empty());
    keeper.Committed();
    CHECK(entries().empty());
  }
  SECTION("a failed commit keeps the entry while something is left to repair") {
    JournaledUploadKeeper keeper(&journal, Upload(name, ""));
    keeper.Created("upload-9");
    keeper.Completing(SavedRecord(name));
    keeper.CommitFailed(true);  // the upload is still open
    CHECK(entries().size() == 1);
    keeper.Ended();  // the writer's abort
    CHECK(entries().empty());

    JournaledUploadKeeper uncleaned(&journal, Upload(name, ""));
    uncleaned.Created("upload-10");
    uncleaned.Completing(SavedRecord(name));
    uncleaned.Ended();
    uncleaned.CommitFailed(false);  // the object could not be removed
    CHECK(entries().size() == 1);
  }
  SECTION("without a journal it does nothing") {
    JournaledUploadKeeper keeper(nullptr, Upload(name, ""));
    keeper.Created("upload-9");
    keeper.Completing(SavedRecord(name));
    keeper.Committed();
    CHECK(entries().empty());
  }
}

TEST_CASE("a journal that cannot be written fails the upload's creation", "[journal]") {
  TempStateDir tmp;
  std::ofstream(tmp.root + "/not-a-dir") << "x";
  UploadJournal journal(tmp.root + "/not-a-dir/uploads");
  JournaledUploadKeeper keeper(&journal, Upload("etcd-snapshot-a-1700000001", ""));
  RequireError([&] { keeper.Created("upload-1"); }, ErrorKind::kInvalidInput,
               tmp.root + "/not-a-dir: exists and is not a directory");
  keeper.Ended();  // nothing to drop; never throws
}

TEST_CASE("periodic upkeep runs at once, then on its interval, until stopped", "[journal]") {
  std::atomic<int> calls{0};
  PeriodicTask task(
      "test upkeep",
      [&] {
        if (++calls == 1) throw std::runtime_error("first run fails");
      },
      std::chrono::seconds(3600));
  task.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (task.runs() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(task.runs() == 1);  // a failure is logged, not fatal
  const auto stop_started = std::chrono::steady_clock::now();
  task.Stop();  // wakes it from its hour-long wait
  CHECK(std::chrono::steady_clock::now() - stop_started < std::chrono::seconds(5));
  CHECK(calls == 1);

  PeriodicTask delayed(
      "delayed", [&] { ++calls; }, std::chrono::seconds(1));
  delayed.Start(std::chrono::seconds(3600));
  delayed.Stop();
  CHECK(delayed.runs() == 0);
}
