// JournalDir on the durable-file helpers.
#include "store/journal_dir.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/file_descriptor.h"

namespace snapd {
namespace {

void CheckName(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.find('/') != std::string::npos) {
    throw Error::InvalidInput("bad journal entry name \"" + name + "\"");
  }
}

}  // namespace

void JournalDir::Write(const std::string& name, std::string_view body) {
  CheckName(name);
  std::lock_guard lock(mutex_);
  MakePrivateDirectories(dir_);
  WriteFileDurably(dir_, name, body);
  ours_.insert(name);
}

void JournalDir::Remove(const std::string& name) {
  CheckName(name);
  std::lock_guard lock(mutex_);
  const std::string path = dir_ + "/" + name;
  if (::unlink(path.c_str()) != 0) {
    if (errno != ENOENT) ThrowSystemError("remove " + path, errno);
  } else {
    SyncDirectory(dir_);
  }
  ours_.erase(name);
}

void JournalDir::Release(const std::string& name) {
  std::lock_guard lock(mutex_);
  ours_.erase(name);
}

std::vector<JournalEntry> JournalDir::All() const {
  return Read(false);
}

std::vector<JournalEntry> JournalDir::Leftovers() const {
  return Read(true);
}

std::vector<JournalEntry> JournalDir::Read(bool leftovers_only) const {
  std::vector<JournalEntry> entries;
  std::lock_guard lock(mutex_);
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return entries;
    ThrowSystemError("list " + dir_, errno);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  while (dirent* file = ::readdir(d)) {
    const std::string name = file->d_name;
    if (name == "." || name == "..") continue;
    if (IsDurableTempName(name)) {
      // Never renamed into place: its Write did not return, so nothing relied on it.
      if (leftovers_only) ::unlinkat(::dirfd(d), name.c_str(), 0);
      continue;
    }
    if (name.front() == '.' || (leftovers_only && ours_.contains(name))) continue;
    JournalEntry entry{name, ""};
    if (ReadSmallFile(dir_ + "/" + name, entry.body)) entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const JournalEntry& a, const JournalEntry& b) { return a.name < b.name; });
  return entries;
}

}  // namespace snapd
