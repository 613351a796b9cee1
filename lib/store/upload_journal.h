// The uploads this daemon has open in S3, kept durably in its state dir (one JSON file per
// snapshot), so that the next start can abort what a crash left open and finish or remove an
// object completed without its record.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/snapshot_record.h"
#include "store/journal_dir.h"

namespace snapd {

struct JournaledUpload {
  static constexpr int kVersion = 1;  // of the entry's JSON

  std::string snapshot;  // the snapshot's name: one entry per snapshot
  std::string bucket;
  std::string key;        // the snapshot object's key
  std::string upload_id;  // "" while none is created (or for a single PutObject)
  // The record to store once the object is complete; set just before it is completed, so
  // that an object completed without its record can be checked against it and finished.
  std::optional<SnapshotRecord> record;
};

// An entry as text, and back. Parse throws kCorrupt naming what is wrong.
std::string FormatJournaledUpload(const JournaledUpload& upload);
JournaledUpload ParseJournaledUpload(const std::string& text);

// What an earlier process left: the readable entries, and one line per unreadable one.
struct UploadLeftovers {
  std::vector<JournaledUpload> uploads;
  std::vector<std::string> problems;
};

class UploadJournal {
 public:
  // `dir` is typically `<state-dir>/uploads`; made on the first Record.
  explicit UploadJournal(std::string dir) : entries_(std::move(dir)) {}

  // Writes (or replaces) the entry of `upload.snapshot` durably. Throws naming the path.
  void Record(const JournaledUpload& upload);
  // Drops the entry of `snapshot`; a missing one is fine. Throws naming the path.
  void Remove(const std::string& snapshot);
  // Leaves the entry of `snapshot` to Leftovers(), for the recovery to settle.
  void Release(const std::string& snapshot);
  // The entries written by earlier processes; unreadable ones are named in problems and left
  // in place for an operator to look at.
  UploadLeftovers Leftovers() const;
  // Every readable entry, this process's included (the uploads of a running save): the
  // periodic cleanup leaves all of them alone.
  std::vector<JournaledUpload> All() const;

  const std::string& dir() const { return entries_.dir(); }

 private:
  JournalDir entries_;
};

// One save's entry in the journal, kept by the S3 writer through its upload: written before the
// multipart upload is created (its key), once it is (its id) and again, with the record, just
// before the object is completed; dropped once nothing is left to repair. Without a journal it
// does nothing. Thread-safe: the upload's workers call Creating, Created and Ended.
class JournaledUploadKeeper {
 public:
  JournaledUploadKeeper(UploadJournal* journal, JournaledUpload entry)
      : journal_(journal), entry_(std::move(entry)) {}

  // The multipart upload is about to be created: a crash from here on may leave an upload
  // whose id we never journaled, found by its key. Throws when it cannot be journaled.
  void Creating();
  // The multipart upload exists: journaled before any part goes up. Throws when it cannot be.
  void Created(const std::string& upload_id);
  // The upload was completed or aborted. Drops the entry unless a Commit is under way (it
  // drops it itself once the record is stored).
  void Ended() noexcept;
  // The abort failed: the upload may still be open. The entry is left to the recovery, which
  // runs at start and on the S3 cleanup timer.
  void AbortFailed() noexcept;
  // The object is about to be completed (and its record stored): journals the record. Throws.
  void Completing(const SnapshotRecord& record);
  // The record is stored: nothing to repair.
  void Committed() noexcept;
  // The Commit failed; `cleaned`: whatever it had written is removed. The entry goes once the
  // upload has ended too; otherwise the next start aborts the upload, and finishes or removes
  // an object left without its record.
  void CommitFailed(bool cleaned) noexcept;

 private:
  void DropLocked() noexcept;

  UploadJournal* journal_;
  std::mutex mutex_;
  JournaledUpload entry_;
  bool open_ = false;        // the multipart upload exists and has not ended
  bool completing_ = false;  // between Completing and the end of the Commit
  bool journaled_ = false;
};

}  // namespace snapd
