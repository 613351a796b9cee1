// UploadJournal: JSON entries in a JournalDir.
#include "store/upload_journal.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

std::string FileNameOf(const std::string& snapshot) {
  // A valid snapshot name is a plain file name that never starts with '.'.
  ValidateSnapshotName(snapshot);
  return snapshot + ".json";
}

std::string StringField(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    throw Error::Corrupt(std::string("missing or not a string: ") + name);
  }
  return *it;
}

}  // namespace

std::string FormatJournaledUpload(const JournaledUpload& upload) {
  nlohmann::json j = {{"version", JournaledUpload::kVersion},
                      {"snapshot", upload.snapshot},
                      {"bucket", upload.bucket},
                      {"key", upload.key},
                      {"uploadId", upload.upload_id}};
  if (upload.record) j["record"] = RecordToApiJson(*upload.record);
  return j.dump() + "\n";
}

JournaledUpload ParseJournaledUpload(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error::Corrupt("not a JSON object");
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<int>() != JournaledUpload::kVersion) {
    throw Error::Corrupt("unknown version (expected " + std::to_string(JournaledUpload::kVersion) +
                         ")");
  }
  JournaledUpload upload;
  upload.snapshot = StringField(j, "snapshot");
  upload.bucket = StringField(j, "bucket");
  upload.key = StringField(j, "key");
  upload.upload_id = StringField(j, "uploadId");
  if (upload.bucket.empty() || upload.key.empty()) throw Error::Corrupt("empty bucket or key");
  if (auto record = j.find("record"); record != j.end()) {
    try {
      upload.record = RecordFromApiJson(*record);
    } catch (const Error& e) {
      throw Error::Corrupt(e.what());
    }
  }
  return upload;
}

void UploadJournal::Record(const JournaledUpload& upload) {
  entries_.Write(FileNameOf(upload.snapshot), FormatJournaledUpload(upload));
}

void UploadJournal::Remove(const std::string& snapshot) {
  entries_.Remove(FileNameOf(snapshot));
}

void UploadJournal::Release(const std::string& snapshot) {
  entries_.Release(FileNameOf(snapshot));
}

UploadLeftovers UploadJournal::Leftovers() const {
  UploadLeftovers leftovers;
  for (const JournalEntry& entry : entries_.Leftovers()) {
    try {
      JournaledUpload upload = ParseJournaledUpload(entry.body);
      if (FileNameOf(upload.snapshot) != entry.name) {
        throw Error::Corrupt("names snapshot " + upload.snapshot);
      }
      leftovers.uploads.push_back(std::move(upload));
    } catch (const Error& e) {
      leftovers.problems.push_back("upload journal entry " + dir() + "/" + entry.name +
                                   " is unreadable, skipped: " + e.what());
    }
  }
  return leftovers;
}

std::vector<JournaledUpload> UploadJournal::All() const {
  std::vector<JournaledUpload> uploads;
  for (const JournalEntry& entry : entries_.All()) {
    try {
      uploads.push_back(ParseJournaledUpload(entry.body));
    } catch (const Error&) {
      // Named by Leftovers at start; its upload falls to the grace period.
    }
  }
  return uploads;
}

void JournaledUploadKeeper::Creating() {
  std::lock_guard lock(mutex_);
  entry_.upload_id.clear();
  open_ = true;
  if (journal_ == nullptr) return;
  journal_->Record(entry_);
  journaled_ = true;
}

void JournaledUploadKeeper::Created(const std::string& upload_id) {
  std::lock_guard lock(mutex_);
  entry_.upload_id = upload_id;
  open_ = true;
  if (journal_ == nullptr) return;
  journal_->Record(entry_);
  journaled_ = true;
}

void JournaledUploadKeeper::Ended() noexcept {
  std::lock_guard lock(mutex_);
  open_ = false;
  if (!completing_) DropLocked();
}

void JournaledUploadKeeper::AbortFailed() noexcept {
  std::lock_guard lock(mutex_);
  open_ = false;
  if (!journaled_) return;
  journal_->Release(entry_.snapshot);
  journaled_ = false;  // the recovery's now: a late Commit must not drop it
}

void JournaledUploadKeeper::Completing(const SnapshotRecord& record) {
  std::lock_guard lock(mutex_);
  completing_ = true;
  entry_.record = record;
  if (journal_ == nullptr) return;
  journal_->Record(entry_);
  journaled_ = true;
}

void JournaledUploadKeeper::Committed() noexcept {
  std::lock_guard lock(mutex_);
  completing_ = false;
  DropLocked();
}

void JournaledUploadKeeper::CommitFailed(bool cleaned) noexcept {
  std::lock_guard lock(mutex_);
  completing_ = false;
  if (cleaned && !open_) DropLocked();
}

void JournaledUploadKeeper::DropLocked() noexcept {
  if (!journaled_) return;
  try {
    journal_->Remove(entry_.snapshot);
    journaled_ = false;
  } catch (const std::exception& e) {
    // The next start finds the entry, and nothing left to do for it.
    spdlog::warn("cannot drop the upload of {} from the journal: {}", entry_.snapshot, e.what());
  }
}

}  // namespace snapd
