// RestoreSqliteDatabase: kine's state.db replaced by a verified copy, the old files kept.
#include "restore/sqlite_restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "core/file_descriptor.h"
#include "restore/file_moves.h"

namespace snapd {
namespace {

constexpr const char* kCompanions[] = {"-wal", "-shm"};

std::string CommandOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string command;
  std::getline(in, command);
  return command.empty() ? "?" : command;
}

// Copies `from` into a new file `to` (never through a symlink) with `mode` and `uid`/`gid`, then
// fsyncs it.
void CopyDurably(const std::string& from, const std::string& to, mode_t mode, uid_t uid, gid_t gid,
                 const RestoreLog& log) {
  log("copying " + from + " to " + to);
  FileDescriptor in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (in.get() < 0) ThrowSystemError("open " + from, errno);
  FileDescriptor out(
      ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777));
  if (out.get() < 0) ThrowSystemError("create " + to, errno);
  try {
    std::unique_ptr<char[]> buffer(new char[1 << 20]);
    for (;;) {
      ssize_t n = ::read(in.get(), buffer.get(), 1 << 20);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowSystemError("read " + from, errno);
      if (n == 0) break;
      WriteAll(out.get(), std::string_view(buffer.get(), static_cast<size_t>(n)), to);
    }
    if (::fchown(out.get(), uid, gid) != 0) ThrowSystemError("chown " + to, errno);
    if (::fchmod(out.get(), mode & 07777) != 0) ThrowSystemError("chmod " + to, errno);
    if (::fsync(out.get()) != 0) ThrowSystemError("fsync " + to, errno);
    out.Close(to);
  } catch (...) {
    ::unlink(to.c_str());
    throw;
  }
}

}  // namespace

std::vector<OpenFileHolder> ProcessesHoldingDatabase(const std::string& db_path) {
  std::vector<std::string> targets = {db_path};
  for (const char* suffix : kCompanions) targets.push_back(db_path + suffix);
  std::vector<OpenFileHolder> holders;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return holders;
  std::unique_ptr<DIR, int (*)(DIR*)> proc_guard(proc, ::closedir);
  const pid_t self = ::getpid();
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self) continue;
    const std::string fd_dir = "/proc/" + std::string(entry->d_name) + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;  // gone, or not ours to read
    std::unique_ptr<DIR, int (*)(DIR*)> fds_guard(fds, ::closedir);
    bool holds = false;
    while (dirent* fd = ::readdir(fds)) {
      if (fd->d_name[0] == '.') continue;
      char target[4096];
      ssize_t n = ::readlinkat(::dirfd(fds), fd->d_name, target, sizeof target - 1);
      if (n <= 0) continue;
      const std::string link(target, static_cast<size_t>(n));
      for (const std::string& t : targets) holds = holds || link == t;
      if (holds) break;
    }
    if (holds) holders.push_back({static_cast<pid_t>(pid), CommandOf(static_cast<pid_t>(pid))});
  }
  return holders;
}

RestoreOutcome RestoreSqliteDatabase(const SqliteRestoreOptions& options, const RestoreLog& log) {
  const std::string& db = options.db_path;
  if (db.empty() || db.front() != '/') {
    throw Error::InvalidInput("the SQLite database path must be absolute, not \"" + db + "\"");
  }
  if (!options.force) {
    std::vector<OpenFileHolder> holders = ProcessesHoldingDatabase(db);
    if (!holders.empty()) {
      std::string who;
      for (const OpenFileHolder& h : holders) {
        who += (who.empty() ? "" : ", ") + h.command + " (pid " + std::to_string(h.pid) + ")";
      }
      throw Error::Conflict(db + " is open in " + who + "; stop k3s first, or pass --force");
    }
  }
  const std::string unix = std::to_string(options.now_unix);
  const std::string old = db + "-old-" + unix;
  const std::string writing = db + ".restoring-" + unix;
  struct stat st;
  const bool had_db = ::lstat(db.c_str(), &st) == 0;
  if (had_db && !S_ISREG(st.st_mode)) throw Error::InvalidInput(db + " is not a regular file");
  const mode_t mode = had_db ? (st.st_mode & 07777) : 0600;
  const uid_t uid = had_db ? st.st_uid : ::geteuid();
  const gid_t gid = had_db ? st.st_gid : ::getegid();
  std::vector<std::pair<std::string, std::string>> moves;  // (from, to), in order
  if (had_db) moves.emplace_back(db, old);
  for (const char* suffix : kCompanions) {
    if (PathExists(db + suffix)) moves.emplace_back(db + suffix, old + suffix);
  }
  for (const auto& [from, to] : moves) RequireAbsent(to);
  RequireAbsent(writing);
  if (!IsDirectory(ParentOf(db))) {
    throw Error::InvalidInput("the directory of " + db + " does not exist");
  }

  // Written in full before anything moves, so a failed copy leaves the old database in place.
  CopyDurably(options.staged_path, writing, mode, uid, gid, log);
  std::vector<std::pair<std::string, std::string>> done;
  auto undo = [&](const std::exception& cause) {
    ::unlink(writing.c_str());
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      try {
        MoveNoReplace(it->second, it->first, log);
      } catch (const std::exception& e) {
        throw Error::Permanent(std::string(cause.what()) + "; moving " + it->second +
                               " back failed too (" + e.what() + ")");
      }
    }
  };
  try {
    for (const auto& move : moves) {
      MoveNoReplace(move.first, move.second, log);
      done.push_back(move);
    }
    MoveNoReplace(writing, db, log);
  } catch (const std::exception& e) {
    undo(e);
    throw;
  }
  RestoreOutcome outcome;
  outcome.moved_aside = had_db ? old : "";
  outcome.next_steps = {
      "start k3s (systemctl start k3s): it opens the restored " + db,
      "agents reconnect by themselves; workloads changed since the snapshot are reconciled to it",
  };
  if (had_db) outcome.next_steps.push_back("once the cluster is healthy, remove " + old + "*");
  return outcome;
}

}  // namespace snapd
