// SystemProcessRunner: posix_spawnp and waitpid, no shell in between.
#include "restore/process_runner.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

extern char** environ;

namespace snapd {
namespace {

// Signals a daemon commonly ignores (SIGPIPE for sockets, the others while it shuts down):
// an ignored signal stays ignored across exec, so the child gets their defaults back.
constexpr int kSignalsToDefault[] = {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD};

class SpawnAttributes {
 public:
  SpawnAttributes() {
    if (int err = ::posix_spawnattr_init(&attr_); err != 0) {
      ThrowSystemError("posix_spawnattr_init", err);
    }
    // A daemon blocks signals in its threads to take them on one; the child must not inherit
    // that mask, or `systemctl stop` could never end it.
    sigset_t empty;
    sigemptyset(&empty);
    sigset_t to_default;
    sigemptyset(&to_default);
    for (int signal : kSignalsToDefault) sigaddset(&to_default, signal);
    ::posix_spawnattr_setsigmask(&attr_, &empty);
    ::posix_spawnattr_setsigdefault(&attr_, &to_default);
    ::posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

std::string NameOf(const std::string& entry) {
  return entry.substr(0, entry.find('='));
}

// Our environment with `extra` put over it; the strings live in `storage`.
std::vector<char*> ChildEnvironment(const std::vector<std::string>& extra,
                                    std::vector<std::string>& storage) {
  for (const std::string& entry : extra) {
    if (entry.find('=') == std::string::npos || entry.front() == '=') {
      // Not echoed: the value may be a secret.
      throw Error::InvalidInput("an environment entry for the child has no NAME=");
    }
  }
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string name = NameOf(*entry);
    bool replaced = false;
    for (const std::string& e : extra) replaced = replaced || NameOf(e) == name;
    if (!replaced) storage.emplace_back(*entry);
  }
  storage.insert(storage.end(), extra.begin(), extra.end());
  std::vector<char*> pointers;
  for (std::string& entry : storage) pointers.push_back(entry.data());
  pointers.push_back(nullptr);
  return pointers;
}

[[noreturn]] void ThrowCannotStart(const std::string& program, int err) {
  if (err == ENOENT && program.find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    throw Error::NotFound(program + ": not found in PATH (" +
                          (path != nullptr ? path : "unset: /bin:/usr/bin") + ")");
  }
  if (err == ENOENT) throw Error::NotFound(program + ": no such file");
  throw Error::NotFound(program + ": cannot be started: " + std::strerror(err));
}

}  // namespace

int SystemProcessRunner::Run(const std::vector<std::string>& argv,
                             const std::vector<std::string>& environment) {
  if (argv.empty() || argv.front().empty()) throw Error::InvalidInput("no program to run");
  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);
  std::vector<std::string> env_storage;
  std::vector<char*> env_pointers = ChildEnvironment(environment, env_storage);

  SpawnAttributes attributes;
  pid_t pid = -1;
  // glibc's posix_spawnp reports a failed exec (not found, not executable) here, not as exit
  // status 127, because it spawns with CLONE_VFORK and waits for the exec.
  int err = ::posix_spawnp(&pid, args.front().c_str(), nullptr, attributes.get(),
                           arg_pointers.data(), env_pointers.data());
  if (err != 0) ThrowCannotStart(args.front(), err);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) ThrowSystemError("wait for " + args.front(), errno);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 128;
}

}  // namespace snapd
