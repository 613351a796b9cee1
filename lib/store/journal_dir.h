// A directory of small entries that must survive a crash, one file each, written durably. It
// tells the entries this object wrote (a live save's) from leftovers of an earlier process, so
// only those are acted on at start. Thread-safe.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace snapd {

struct JournalEntry {
  std::string name;  // the file name
  std::string body;
};

class JournalDir {
 public:
  // No I/O until the first call; `dir` is made (0700) by the first Write.
  explicit JournalDir(std::string dir) : dir_(std::move(dir)) {}

  // Writes (or replaces) entry `name` durably before returning, as this object's. `name` must
  // be a plain file name not starting with '.'. Throws naming the path.
  void Write(const std::string& name, std::string_view body);
  // Removes entry `name` durably; a missing one is fine. Throws naming the path.
  void Remove(const std::string& name);
  // Hands entry `name` over to the leftovers: it stays on disk and Leftovers() returns it, as
  // if an earlier process had written it (its writer gave up on it).
  void Release(const std::string& name);

  // Every entry, this object's included, in name order; unreadable ones are skipped.
  std::vector<JournalEntry> All() const;
  // The entries this object did not write: what earlier processes left. Also removes the
  // temporary files a crash in the middle of a Write left behind.
  std::vector<JournalEntry> Leftovers() const;

  const std::string& dir() const { return dir_; }

 private:
  std::vector<JournalEntry> Read(bool leftovers_only) const;

  std::string dir_;
  mutable std::mutex mutex_;
  std::set<std::string, std::less<>> ours_;
};

}  // namespace snapd
