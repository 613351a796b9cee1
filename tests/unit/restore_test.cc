// Tests of lib/restore: the host-side restore steps on a real filesystem in a temp dir, with a
// recording ProcessRunner stand-in, and the real SystemProcessRunner on small programs.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "restore/data_dir_restore.h"
#include "restore/file_moves.h"
#include "restore/process_runner.h"
#include "restore/sqlite_restore.h"

using namespace snapd;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kNow = 1700000000;

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/snapd-restore-test.XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

void WriteFile(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  REQUIRE(out.good());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteScript(const std::string& path, const std::string& body) {
  WriteFile(path, "#!/bin/sh\n" + body);
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

struct Call {
  std::vector<std::string> argv;
  std::vector<std::string> environment;
};

// Records each call; `action` stands in for the program (makes dirs, fails, throws).
class RecordingRunner final : public ProcessRunner {
 public:
  using ProcessRunner::Run;
  int Run(const std::vector<std::string>& argv,
          const std::vector<std::string>& environment) override {
    calls.push_back({argv, environment});
    return action ? action(calls.back()) : 0;
  }
  std::vector<Call> calls;
  std::function<int(const Call&)> action;
};

struct Log {
  RestoreLog callback() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
  bool Has(const std::string& part) const {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(part) != std::string::npos; });
  }
  std::vector<std::string> lines;
};

bool AnyContains(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

// The value after `flag` in argv.
std::string ArgAfter(const std::vector<std::string>& argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  REQUIRE(it != argv.end());
  REQUIRE(it + 1 != argv.end());
  return *(it + 1);
}

class EnvGuard {
 public:
  EnvGuard(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~EnvGuard() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A k3s data dir holding server/db/etcd with a marker, and a staged snapshot beside it.
struct K3sLayout {
  K3sLayout() {
    data_dir = temp.path + "/k3s";
    etcd = data_dir + "/server/db/etcd";
    old = etcd + "-old-" + std::to_string(kNow);
    failed = etcd + "-failed-" + std::to_string(kNow);
    staged = temp.path + "/staged/on-demand-node1-1699990000";
    WriteFile(etcd + "/member/snap/db", "old etcd data");
    WriteFile(staged, "snapshot bytes");
  }
  K3sRestoreOptions Options() const {
    K3sRestoreOptions options;
    options.data_dir = data_dir;
    options.staged_path = staged;
    options.now_unix = kNow;
    return options;
  }
  TempDir temp;
  std::string data_dir, etcd, old, failed, staged;
};

// A plain etcd data dir with a marker, and a staged snapshot.
struct EtcdLayout {
  EtcdLayout() {
    data_dir = temp.path + "/etcd-data";
    restoring = data_dir + ".restoring-" + std::to_string(kNow);
    old = data_dir + "-old-" + std::to_string(kNow);
    staged = temp.path + "/staged.db";
    WriteFile(data_dir + "/member/snap/db", "old etcd data");
    WriteFile(staged, "snapshot bytes");
  }
  EtcdRestoreOptions Options() const {
    EtcdRestoreOptions options;
    options.staged_path = staged;
    options.data_dir = data_dir;
    options.name = "n1";
    options.initial_cluster = "n1=https://10.0.0.1:2380,n2=https://10.0.0.2:2380";
    options.initial_advertise_peer_urls = "https://10.0.0.1:2380";
    options.initial_cluster_token = "tok-1";
    options.restore_tool = "etcdutl";
    options.now_unix = kNow;
    return options;
  }
  TempDir temp;
  std::string data_dir, restoring, old, staged;
};

// What `etcdutl snapshot restore` leaves: the --data-dir with member/snap/db, mode 0755 here so
// that the 0700 restriction can be seen.
int MakeRestoredDir(const Call& call) {
  std::string dir = ArgAfter(call.argv, "--data-dir");
  WriteFile(dir + "/member/snap/db", "restored data");
  fs::create_directories(dir + "/member/wal");
  ::chmod(dir.c_str(), 0755);
  return 0;
}

}  // namespace

// ---------------------------------------------------------------- SystemProcessRunner

TEST_CASE("SystemProcessRunner returns the program's exit status", "[restore]") {
  SystemProcessRunner runner;
  CHECK(runner.Run({"/bin/true"}) == 0);
  CHECK(runner.Run({"/bin/false"}) == 1);
  CHECK(runner.Run({"true"}) == 0);  // looked up in PATH
  CHECK(runner.Run({"sh", "-c", "exit 42"}) == 42);
}

TEST_CASE("SystemProcessRunner: a missing program is NotFound naming it", "[restore]") {
  SystemProcessRunner runner;
  RequireError(
      [&] {
        runner.Run({"k3s-snapd-test-no-such-program", "server"});
      },
      ErrorKind::kNotFound, "k3s-snapd-test-no-such-program: not found in PATH");
  RequireError([&] { runner.Run({"/nonexistent/dir/k3s"}); }, ErrorKind::kNotFound,
               "/nonexistent/dir/k3s");
  TempDir temp;
  std::string not_executable = temp.path + "/k3s";
  WriteFile(not_executable, "#!/bin/sh\nexit 0\n");
  REQUIRE(::chmod(not_executable.c_str(), 0644) == 0);
  RequireError([&] { runner.Run({not_executable}); }, ErrorKind::kNotFound, not_executable);
  RequireError([&] { runner.Run({}); }, ErrorKind::kInvalidInput, "no program");
}

TEST_CASE("SystemProcessRunner passes arguments verbatim, without a shell", "[restore]") {
  TempDir temp;
  std::string script = temp.path + "/stand-in";
  std::string out = temp.path + "/args";
  WriteScript(script, "for a in \"$@\"; do printf '%s\\n' \"$a\" >> " + out +
                          "; done\nprintf 'API=%s\\n' \"$ETCDCTL_API\" >> " + out +
                          "\nprintf 'HOME=%s\\n' \"$HOME\" >> " + out + "\nexit 7\n");
  std::string injected = temp.path + "/injected";
  SystemProcessRunner runner;
  EnvGuard home("HOME", "/home/kept");
  EnvGuard api("ETCDCTL_API", "2");
  int status = runner.Run({script, "two words", "$(touch " + injected + ")", "--flag=a;b"},
                          {"ETCDCTL_API=3"});
  CHECK(status == 7);
  CHECK(ReadFile(out) ==
        "two words\n$(touch " + injected + ")\n--flag=a;b\nAPI=3\nHOME=/home/kept\n");
  CHECK_FALSE(fs::exists(injected));
  CHECK(std::string(std::getenv("ETCDCTL_API")) == "2");  // ours is untouched
}

TEST_CASE("SystemProcessRunner: a killed program is 128 + signal", "[restore]") {
  SystemProcessRunner runner;
  CHECK(runner.Run({"sh", "-c", "kill -KILL $$"}) == 128 + SIGKILL);
}

TEST_CASE("SystemProcessRunner: the child does not inherit blocked or ignored signals",
          "[restore]") {
  sigset_t term, previous_mask;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &term, &previous_mask) == 0);
  struct sigaction ignore {
  }, previous_action{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGTERM, &ignore, &previous_action) == 0);
  SystemProcessRunner runner;
  // With SIGTERM blocked or ignored the shell would go on to `exit 0`.
  int status = runner.Run({"sh", "-c", "kill -TERM $$; exit 0"});
  ::sigaction(SIGTERM, &previous_action, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  CHECK(status == 128 + SIGTERM);
}

// ---------------------------------------------------------------- RestoreK3s

TEST_CASE("RestoreK3s moves etcd aside, runs k3s --cluster-reset and says what is next",
          "[restore]") {
  K3sLayout k3s;
  RecordingRunner runner;
  runner.action = [&](const Call&) {
    // The old data is out of the way before k3s starts.
    CHECK_FALSE(fs::exists(k3s.etcd));
    CHECK(ReadFile(k3s.old + "/member/snap/db") == "old etcd data");
    WriteFile(k3s.etcd + "/member/snap/db", "restored");
    return 0;
  };
  Log log;
  RestoreOutcome outcome = RestoreK3s(k3s.Options(), runner, log.callback());

  REQUIRE(runner.calls.size() == 1);
  CHECK(runner.calls[0].argv ==
        std::vector<std::string>{"k3s", "server", "--cluster-reset",
                                 "--cluster-reset-restore-path=" + k3s.staged,
                                 "--data-dir=" + k3s.data_dir, "--etcd-s3=false"});
  CHECK(runner.calls[0].environment.empty());
  CHECK(outcome.moved_aside == k3s.old);
  CHECK(ReadFile(k3s.old + "/member/snap/db") == "old etcd data");
  CHECK(ReadFile(k3s.etcd + "/member/snap/db") == "restored");
  CHECK(fs::exists(k3s.staged));

  REQUIRE(log.lines.size() == 2);
  CHECK(log.lines[0] == "moving " + k3s.etcd + " to " + k3s.old);
  CHECK(log.lines[1].rfind(
            "running k3s server --cluster-reset --cluster-reset-restore-path=" + k3s.staged, 0) ==
        0);

  CHECK(AnyContains(outcome.next_steps, "systemctl start k3s"));
  CHECK(AnyContains(outcome.next_steps, "without the --cluster-reset flags"));
  CHECK(AnyContains(outcome.next_steps, "other server"));
  CHECK(AnyContains(outcome.next_steps, "systemctl stop k3s"));
  CHECK(AnyContains(outcome.next_steps, "rm -rf " + k3s.data_dir + "/server/db"));
  CHECK(AnyContains(outcome.next_steps, k3s.old));
}

TEST_CASE("RestoreK3s on a node without etcd data just runs k3s", "[restore]") {
  K3sLayout k3s;
  fs::remove_all(k3s.data_dir);
  RecordingRunner runner;
  runner.action = [&](const Call&) {
    WriteFile(k3s.etcd + "/member/snap/db", "restored");
    return 0;
  };
  Log log;
  RestoreOutcome outcome = RestoreK3s(k3s.Options(), runner, log.callback());
  CHECK(runner.calls.size() == 1);
  CHECK(outcome.moved_aside.empty());
  CHECK_FALSE(AnyContains(outcome.next_steps, "-old-"));
  CHECK_FALSE(log.Has("moving"));
}

TEST_CASE("RestoreK3s names the etcd-old dir k3s makes of its start-up etcd dir", "[restore]") {
  K3sLayout k3s;
  std::string k3s_own = k3s.etcd + "-old-" + std::to_string(kNow + 3);
  RecordingRunner runner;
  runner.action = [&](const Call&) {
    // What k3s does: writes etcd/name at start-up, moves etcd aside, restores.
    WriteFile(k3s.etcd + "/name", "node1-0a1b2c3d");
    fs::rename(k3s.etcd, k3s_own);
    WriteFile(k3s.etcd + "/member/snap/db", "restored");
    return 0;
  };
  Log log;
  RestoreOutcome outcome = RestoreK3s(k3s.Options(), runner, log.callback());
  CHECK(outcome.moved_aside == k3s.old);
  CHECK(AnyContains(outcome.next_steps, k3s_own));
  CHECK(ReadFile(k3s.old + "/member/snap/db") == "old etcd data");
}

TEST_CASE("RestoreK3s puts the old data back when k3s fails", "[restore]") {
  K3sLayout k3s;
  std::string reset_flag = k3s.data_dir + "/server/db/reset-flag";
  RecordingRunner runner;
  runner.action = [&](const Call&) {
    WriteFile(k3s.etcd + "/member/snap/db", "half restored");
    WriteFile(reset_flag, "");
    return 1;
  };
  Log log;
  RequireError(
      [&] { RestoreK3s(k3s.Options(), runner, log.callback()); }, ErrorKind::kPermanent,
      "k3s server --cluster-reset exited with status 1; the old etcd data is back at " + k3s.etcd);
  CHECK(ReadFile(k3s.etcd + "/member/snap/db") == "old etcd data");
  CHECK(ReadFile(k3s.failed + "/member/snap/db") == "half restored");
  CHECK_FALSE(fs::exists(k3s.old));
  CHECK_FALSE(fs::exists(reset_flag));
  CHECK(fs::exists(reset_flag + "-failed-" + std::to_string(kNow)));
  CHECK(log.Has("moving " + k3s.etcd + " to " + k3s.failed));
  CHECK(log.Has("moving " + k3s.old + " to " + k3s.etcd));
}

TEST_CASE("RestoreK3s keeps a reset-flag that was there before", "[restore]") {
  K3sLayout k3s;
  std::string reset_flag = k3s.data_dir + "/server/db/reset-flag";
  WriteFile(reset_flag, "");
  RecordingRunner runner;
  runner.action = [](const Call&) { return 2; };
  Log log;
  RequireError([&] { RestoreK3s(k3s.Options(), runner, log.callback()); }, ErrorKind::kPermanent,
               "status 2");
  CHECK(fs::exists(reset_flag));
  CHECK(ReadFile(k3s.etcd + "/member/snap/db") == "old etcd data");
  CHECK_FALSE(fs::exists(k3s.failed));  // k3s left nothing
}

TEST_CASE("RestoreK3s puts the old data back when k3s cannot run", "[restore]") {
  K3sLayout k3s;
  RecordingRunner runner;
  runner.action = [](const Call&) -> int {
    throw Error::NotFound("k3s: not found in PATH (/usr/bin:/bin)");
  };
  Log log;
  RequireError([&] { RestoreK3s(k3s.Options(), runner, log.callback()); }, ErrorKind::kNotFound,
               "k3s: not found in PATH");
  CHECK(ReadFile(k3s.etcd + "/member/snap/db") == "old etcd data");
  CHECK_FALSE(fs::exists(k3s.old));
}

TEST_CASE("RestoreK3s: k3s exiting 0 without an etcd dir is a failure", "[restore]") {
  K3sLayout k3s;
  RecordingRunner runner;
  Log log;
  RequireError([&] { RestoreK3s(k3s.Options(), runner, log.callback()); }, ErrorKind::kPermanent,
               "left no " + k3s.etcd);
  CHECK(ReadFile(k3s.etcd + "/member/snap/db") == "old etcd data");
}

TEST_CASE("RestoreK3s refuses when etcd-old-<unix> already exists, moving nothing", "[restore]") {
  K3sLayout k3s;
  WriteFile(k3s.old + "/keep", "earlier restore");
  RecordingRunner runner;
  Log log;
  RequireError([&] { RestoreK3s(k3s.Options(), runner, log.callback()); }, ErrorKind::kConflict,
               k3s.old);
  CHECK(runner.calls.empty());
  CHECK(log.lines.empty());
  CHECK(ReadFile(k3s.etcd + "/member/snap/db") == "old etcd data");
  CHECK(ReadFile(k3s.old + "/keep") == "earlier restore");
}

TEST_CASE("RestoreK3s checks its options before touching anything", "[restore]") {
  K3sLayout k3s;
  RecordingRunner runner;
  Log log;
  K3sRestoreOptions options = k3s.Options();
  options.data_dir = "";
  RequireError([&] { RestoreK3s(options, runner, log.callback()); }, ErrorKind::kInvalidInput,
               "--data-dir is required");
  options.data_dir = "relative/k3s";
  RequireError([&] { RestoreK3s(options, runner, log.callback()); }, ErrorKind::kInvalidInput,
               "--data-dir must be an absolute path");
  options = k3s.Options();
  options.staged_path = k3s.temp.path + "/missing";
  RequireError([&] { RestoreK3s(options, runner, log.callback()); }, ErrorKind::kInvalidInput,
               k3s.temp.path + "/missing does not exist");
  options.staged_path = k3s.temp.path + "/staged";
  RequireError([&] { RestoreK3s(options, runner, log.callback()); }, ErrorKind::kInvalidInput,
               "not a regular file");
  options.staged_path = k3s.staged + ".zip";
  WriteFile(options.staged_path, "zip");
  RequireError([&] { RestoreK3s(options, runner, log.callback()); }, ErrorKind::kInvalidInput,
               ".zip");
  CHECK(runner.calls.empty());
  CHECK(fs::exists(k3s.etcd));
}

TEST_CASE("RestoreK3s with the real runner and a stand-in k3s script", "[restore]") {
  K3sLayout k3s;
  std::string args_out = k3s.temp.path + "/k3s-args";
  std::string script = k3s.temp.path + "/bin/k3s";
  // Finds --data-dir=, makes server/db/etcd like k3s, exits with $K3S_EXIT.
  WriteScript(script,
              "printf '%s\\n' \"$@\" > " + args_out +
                  "\nfor a in \"$@\"; do case \"$a\" in --data-dir=*) d=\"${a#--data-dir=}\";; "
                  "esac; done\nmkdir -p \"$d/server/db/etcd/member\"\necho new > "
                  "\"$d/server/db/etcd/member/db\"\nexit \"$K3S_EXIT\"\n");
  SystemProcessRunner runner;
  Log log;
  K3sRestoreOptions options = k3s.Options();
  options.k3s_binary = script;

  SECTION("success") {
    EnvGuard exit_code("K3S_EXIT", "0");
    RestoreOutcome outcome = RestoreK3s(options, runner, log.callback());
    CHECK(outcome.moved_aside == k3s.old);
    CHECK(ReadFile(k3s.etcd + "/member/db") == "new\n");
    CHECK(ReadFile(args_out) ==
          "server\n--cluster-reset\n--cluster-reset-restore-path=" + k3s.staged +
              "\n--data-dir=" + k3s.data_dir + "\n--etcd-s3=false\n");
  }
  SECTION("failure") {
    EnvGuard exit_code("K3S_EXIT", "3");
    RequireError([&] { RestoreK3s(options, runner, log.callback()); }, ErrorKind::kPermanent,
                 "exited with status 3");
    CHECK(ReadFile(k3s.etcd + "/member/snap/db") == "old etcd data");
    CHECK(ReadFile(k3s.failed + "/member/db") == "new\n");
  }
}

// ---------------------------------------------------------------- RestoreEtcdDataDir

TEST_CASE("RestoreEtcdDataDir restores beside the data dir, then swaps it in", "[restore]") {
  EtcdLayout etcd;
  RecordingRunner runner;
  runner.action = [&](const Call& call) {
    CHECK(ReadFile(etcd.data_dir + "/member/snap/db") == "old etcd data");  // not yet moved
    return MakeRestoredDir(call);
  };
  Log log;
  RestoreOutcome outcome = RestoreEtcdDataDir(etcd.Options(), runner, log.callback());

  REQUIRE(runner.calls.size() == 1);
  CHECK(runner.calls[0].argv ==
        std::vector<std::string>{"etcdutl", "snapshot", "restore", etcd.staged, "--data-dir",
                                 etcd.restoring, "--name", "n1", "--initial-cluster",
                                 "n1=https://10.0.0.1:2380,n2=https://10.0.0.2:2380",
                                 "--initial-cluster-token", "tok-1",
                                 "--initial-advertise-peer-urls", "https://10.0.0.1:2380"});
  CHECK(runner.calls[0].environment.empty());
  CHECK(outcome.moved_aside == etcd.old);
  CHECK(ReadFile(etcd.old + "/member/snap/db") == "old etcd data");
  CHECK(ReadFile(etcd.data_dir + "/member/snap/db") == "restored data");
  CHECK(ModeOf(etcd.data_dir) == 0700);
  CHECK_FALSE(fs::exists(etcd.restoring));

  CHECK(log.lines.front().rfind("running etcdutl snapshot restore " + etcd.staged, 0) == 0);
  CHECK(log.Has("moving " + etcd.data_dir + " to " + etcd.old));
  CHECK(log.Has("moving " + etcd.restoring + " to " + etcd.data_dir));
  CHECK(AnyContains(outcome.next_steps, "etcd --data-dir " + etcd.data_dir + " --name n1"));
  CHECK(AnyContains(outcome.next_steps, "--initial-advertise-peer-urls https://10.0.0.1:2380"));
  CHECK(AnyContains(outcome.next_steps, "same snapshot"));
  CHECK(AnyContains(outcome.next_steps, etcd.old));
}

TEST_CASE("RestoreEtcdDataDir without an earlier data dir", "[restore]") {
  EtcdLayout etcd;
  fs::remove_all(etcd.data_dir);
  RecordingRunner runner;
  runner.action = MakeRestoredDir;
  Log log;
  RestoreOutcome outcome = RestoreEtcdDataDir(etcd.Options(), runner, log.callback());
  CHECK(outcome.moved_aside.empty());
  CHECK(ReadFile(etcd.data_dir + "/member/snap/db") == "restored data");
  CHECK_FALSE(fs::exists(etcd.old));
}

TEST_CASE("RestoreEtcdDataDir: etcdctl runs with ETCDCTL_API=3", "[restore]") {
  EtcdLayout etcd;
  RecordingRunner runner;
  runner.action = MakeRestoredDir;
  Log log;
  EtcdRestoreOptions options = etcd.Options();
  options.restore_tool = "/usr/bin/etcdctl";
  RestoreEtcdDataDir(options, runner, log.callback());
  REQUIRE(runner.calls.size() == 1);
  CHECK(runner.calls[0].argv.front() == "/usr/bin/etcdctl");
  CHECK(runner.calls[0].environment == std::vector<std::string>{"ETCDCTL_API=3"});
}

TEST_CASE("RestoreEtcdDataDir picks etcdutl when it is in PATH, else etcdctl", "[restore]") {
  EtcdLayout etcd;
  std::string bin = etcd.temp.path + "/bin";
  RecordingRunner runner;
  runner.action = MakeRestoredDir;
  Log log;
  EtcdRestoreOptions options = etcd.Options();
  options.restore_tool = "";
  SECTION("etcdutl present") {
    WriteScript(bin + "/etcdutl", "exit 0\n");
    EnvGuard path("PATH", bin);
    RestoreEtcdDataDir(options, runner, log.callback());
    REQUIRE(runner.calls.size() == 1);
    CHECK(runner.calls[0].argv.front() == "etcdutl");
    CHECK(runner.calls[0].environment.empty());
  }
  SECTION("etcdutl absent") {
    fs::create_directories(bin);
    EnvGuard path("PATH", bin);
    RestoreEtcdDataDir(options, runner, log.callback());
    REQUIRE(runner.calls.size() == 1);
    CHECK(runner.calls[0].argv.front() == "etcdctl");
    CHECK(runner.calls[0].environment == std::vector<std::string>{"ETCDCTL_API=3"});
  }
}

TEST_CASE("RestoreEtcdDataDir: a failing tool leaves the data dir alone", "[restore]") {
  EtcdLayout etcd;
  // Outside the restore: must survive the removal of a symlink to it inside the half-made dir.
  std::string outside = etcd.temp.path + "/outside";
  WriteFile(outside + "/precious", "keep me");
  RecordingRunner runner;
  runner.action = [&](const Call& call) {
    MakeRestoredDir(call);
    fs::create_directory_symlink(outside, etcd.restoring + "/member/link");
    return 2;
  };
  Log log;
  RequireError(
      [&] { RestoreEtcdDataDir(etcd.Options(), runner, log.callback()); }, ErrorKind::kPermanent,
      "etcdutl snapshot restore exited with status 2; " + etcd.data_dir + " was not changed");
  CHECK(ReadFile(etcd.data_dir + "/member/snap/db") == "old etcd data");
  CHECK_FALSE(fs::exists(etcd.restoring));
  CHECK_FALSE(fs::exists(etcd.old));
  CHECK(ReadFile(outside + "/precious") == "keep me");
  CHECK(log.Has("removing " + etcd.restoring));
}

TEST_CASE("RestoreEtcdDataDir: a tool that cannot run changes nothing", "[restore]") {
  EtcdLayout etcd;
  RecordingRunner runner;
  runner.action = [](const Call&) -> int {
    throw Error::NotFound("etcdutl: not found in PATH (/usr/bin)");
  };
  Log log;
  RequireError([&] { RestoreEtcdDataDir(etcd.Options(), runner, log.callback()); },
               ErrorKind::kNotFound, "etcdutl: not found in PATH");
  CHECK(ReadFile(etcd.data_dir + "/member/snap/db") == "old etcd data");
  CHECK_FALSE(fs::exists(etcd.restoring));
}

TEST_CASE("RestoreEtcdDataDir with the real etcdctl on a snapshot without its hash", "[restore]") {
  if (access("/usr/bin/etcdctl", X_OK) != 0) {
    WARN("/usr/bin/etcdctl is not installed; the real-tool case is not checked here");
    return;
  }
  EtcdLayout etcd;
  WriteFile(etcd.staged, std::string(5000, 'x'));  // no bbolt db, no SHA-256 trailer
  EtcdRestoreOptions options = etcd.Options();
  options.restore_tool = "/usr/bin/etcdctl";
  options.initial_cluster = "n1=http://127.0.0.1:2380";
  options.initial_advertise_peer_urls = "http://127.0.0.1:2380";
  SystemProcessRunner runner;
  Log log;
  RequireError([&] { RestoreEtcdDataDir(options, runner, log.callback()); }, ErrorKind::kPermanent,
               "etcdctl snapshot restore exited with status 1");
  CHECK(ReadFile(etcd.data_dir + "/member/snap/db") == "old etcd data");
  CHECK_FALSE(fs::exists(etcd.restoring));  // etcdctl had made it before failing
  CHECK_FALSE(fs::exists(etcd.old));
}

TEST_CASE("RestoreEtcdDataDir names the missing flag", "[restore]") {
  EtcdLayout etcd;
  RecordingRunner runner;
  Log log;
  auto expect = [&](std::function<void(EtcdRestoreOptions&)> change, const std::string& part) {
    EtcdRestoreOptions options = etcd.Options();
    change(options);
    RequireError([&] { RestoreEtcdDataDir(options, runner, log.callback()); },
                 ErrorKind::kInvalidInput, part);
  };
  expect([](auto& o) { o.name = ""; }, "--etcd-name is required in etcd mode");
  expect([](auto& o) { o.data_dir = ""; }, "--etcd-data-dir is required in etcd mode");
  expect([](auto& o) { o.data_dir = "etcd-data"; }, "--etcd-data-dir must be an absolute path");
  expect([](auto& o) { o.initial_cluster = ""; }, "--initial-cluster is required in etcd mode");
  expect([](auto& o) { o.initial_advertise_peer_urls = ""; },
         "--initial-advertise-peer-urls is required in etcd mode");
  expect([](auto& o) { o.name = "n3"; }, "no member named n3");
  expect([](auto& o) { o.staged_path = "/nonexistent/snap.db"; }, "does not exist");
  expect([&](auto& o) { o.data_dir = etcd.temp.path + "/no/such/parent/etcd"; },
         "is not a directory");
  CHECK(runner.calls.empty());
  CHECK(log.lines.empty());
}

TEST_CASE("RestoreEtcdDataDir refuses leftovers of an earlier restore at the same second",
          "[restore]") {
  EtcdLayout etcd;
  RecordingRunner runner;
  Log log;
  SECTION("restoring dir") {
    WriteFile(etcd.restoring + "/x", "earlier");
    RequireError([&] { RestoreEtcdDataDir(etcd.Options(), runner, log.callback()); },
                 ErrorKind::kConflict, etcd.restoring);
    CHECK(ReadFile(etcd.restoring + "/x") == "earlier");
  }
  SECTION("old dir") {
    WriteFile(etcd.old + "/x", "earlier");
    RequireError([&] { RestoreEtcdDataDir(etcd.Options(), runner, log.callback()); },
                 ErrorKind::kConflict, etcd.old);
    CHECK(ReadFile(etcd.old + "/x") == "earlier");
  }
  CHECK(runner.calls.empty());
  CHECK(ReadFile(etcd.data_dir + "/member/snap/db") == "old etcd data");
}

// ---------------------------------------------------------------- RestoreTokenFile

TEST_CASE("RestoreTokenFile moves the old token aside and writes the new one 0600", "[restore]") {
  TempDir temp;
  std::string token_file = temp.path + "/k3s/server/token";
  WriteFile(token_file, "K10old::server:oldsecret\n");
  const std::string token = "K10abc::server:s3cr3t-value";
  mode_t previous_umask = ::umask(0);
  Log log;
  std::string old = RestoreTokenFile(token_file, token, kNow, log.callback());
  ::umask(previous_umask);
  CHECK(old == token_file + "-old-" + std::to_string(kNow));
  CHECK(ReadFile(old) == "K10old::server:oldsecret\n");
  CHECK(ReadFile(token_file) == token);
  CHECK(ModeOf(token_file) == 0600);
  CHECK_FALSE(log.lines.empty());
  CHECK_FALSE(log.Has("s3cr3t"));
  CHECK_FALSE(log.Has("oldsecret"));
  CHECK(log.Has("moving " + token_file + " to " + old));
  CHECK(fs::directory_iterator(temp.path + "/k3s/server") != fs::directory_iterator());
  CHECK(std::distance(fs::directory_iterator(temp.path + "/k3s/server"),
                      fs::directory_iterator()) == 2);  // no temp file left
}

TEST_CASE("RestoreTokenFile on a fresh node creates the private directory", "[restore]") {
  TempDir temp;
  std::string token_file = temp.path + "/k3s/server/token";
  Log log;
  CHECK(RestoreTokenFile(token_file, "tok", kNow, log.callback()).empty());
  CHECK(ReadFile(token_file) == "tok");
  CHECK(ModeOf(temp.path + "/k3s/server") == 0700);
  CHECK(log.Has("creating directory " + temp.path + "/k3s"));
}

TEST_CASE("RestoreTokenFile replaces a symlink, never writing through it", "[restore]") {
  TempDir temp;
  std::string target = temp.path + "/elsewhere";
  WriteFile(target, "not a token");
  std::string token_file = temp.path + "/token";
  fs::create_symlink(target, token_file);
  Log log;
  std::string old = RestoreTokenFile(token_file, "tok", kNow, log.callback());
  CHECK(fs::is_symlink(old));
  CHECK(ReadFile(target) == "not a token");
  CHECK_FALSE(fs::is_symlink(token_file));
  CHECK(ReadFile(token_file) == "tok");
}

TEST_CASE("RestoreTokenFile refuses an existing -old-<unix>, changing nothing", "[restore]") {
  TempDir temp;
  std::string token_file = temp.path + "/token";
  WriteFile(token_file, "current");
  WriteFile(token_file + "-old-" + std::to_string(kNow), "earlier");
  Log log;
  RequireError([&] { RestoreTokenFile(token_file, "new", kNow, log.callback()); },
               ErrorKind::kConflict, token_file + "-old-" + std::to_string(kNow));
  CHECK(ReadFile(token_file) == "current");
  CHECK(ReadFile(token_file + "-old-" + std::to_string(kNow)) == "earlier");
  RequireError([&] { RestoreTokenFile(token_file, "", kNow, log.callback()); },
               ErrorKind::kInvalidInput, "empty");
  RequireError([&] { RestoreTokenFile("token", "x", kNow, log.callback()); },
               ErrorKind::kInvalidInput, "absolute");
}

// ---------------------------------------------------------------- HoldsK3sServer, file moves

TEST_CASE("HoldsK3sServer looks for etcd data, a token or credentials", "[restore]") {
  TempDir temp;
  std::string data_dir = temp.path + "/k3s";
  CHECK_FALSE(HoldsK3sServer(data_dir));
  fs::create_directories(data_dir + "/server/db/snapshots");
  fs::create_directories(data_dir + "/agent");
  CHECK_FALSE(HoldsK3sServer(data_dir));
  CHECK_FALSE(HoldsK3sServer(""));
  SECTION("etcd") {
    fs::create_directories(data_dir + "/server/db/etcd");
    CHECK(HoldsK3sServer(data_dir));
  }
  SECTION("token") {
    WriteFile(data_dir + "/server/token", "t");
    CHECK(HoldsK3sServer(data_dir));
  }
  SECTION("cred") {
    fs::create_directories(data_dir + "/server/cred");
    CHECK(HoldsK3sServer(data_dir));
  }
}

TEST_CASE("MoveNoReplace never replaces; RemoveDirectoryWeMade refuses other dirs", "[restore]") {
  TempDir temp;
  Log log;
  std::string a = temp.path + "/a";
  std::string b = temp.path + "/b";
  WriteFile(a + "/x", "a");
  WriteFile(b + "/y", "b");
  RequireError([&] { MoveNoReplace(a, b, log.callback()); }, ErrorKind::kConflict, b);
  WriteFile(temp.path + "/empty-target/.keep", "");
  fs::remove(temp.path + "/empty-target/.keep");
  // rename(2) would replace an empty directory; this must not.
  RequireError([&] { MoveNoReplace(a, temp.path + "/empty-target", log.callback()); },
               ErrorKind::kConflict, "empty-target");
  CHECK(ReadFile(a + "/x") == "a");

  RequireError([&] { RemoveDirectoryWeMade(a, ".restoring-1", log.callback()); },
               ErrorKind::kPermanent, "refusing to remove " + a);
  CHECK(fs::exists(a + "/x"));
  std::string made = temp.path + "/d.restoring-1";
  WriteFile(made + "/sub/f", "x");
  RemoveDirectoryWeMade(made, ".restoring-1", log.callback());
  CHECK_FALSE(fs::exists(made));
}

TEST_CASE("RestoreSqliteDatabase moves state.db and its WAL aside and puts the copy in place",
          "[restore]") {
  TempDir temp;
  Log log;
  const std::string db = temp.path + "/server/db/state.db";
  WriteFile(db, "old database");
  WriteFile(db + "-wal", "old wal");
  WriteFile(db + "-shm", "old shm");
  REQUIRE(::chmod(db.c_str(), 0640) == 0);
  WriteFile(temp.path + "/staged", "restored database");
  SqliteRestoreOptions options{db, temp.path + "/staged", false, kNow};
  RestoreOutcome outcome = RestoreSqliteDatabase(options, log.callback());
  CHECK(ReadFile(db) == "restored database");
  CHECK(ModeOf(db) == 0640);  // the old file's mode (and owner)
  CHECK_FALSE(fs::exists(db + "-wal"));
  CHECK_FALSE(fs::exists(db + "-shm"));
  // SQLite pairs <db> with <db>-wal: the old database stays openable as it was.
  const std::string old = db + "-old-" + std::to_string(kNow);
  CHECK(ReadFile(old) == "old database");
  CHECK(ReadFile(old + "-wal") == "old wal");
  CHECK(ReadFile(old + "-shm") == "old shm");
  CHECK(outcome.moved_aside == old);
  CHECK_FALSE(outcome.next_steps.empty());
  CHECK(ReadFile(temp.path + "/staged") == "restored database");  // the caller removes it
}

TEST_CASE("RestoreSqliteDatabase on a server without state.db writes it 0600", "[restore]") {
  TempDir temp;
  Log log;
  const std::string db = temp.path + "/state.db";
  WriteFile(temp.path + "/staged", "restored");
  RestoreOutcome outcome =
      RestoreSqliteDatabase({db, temp.path + "/staged", false, kNow}, log.callback());
  CHECK(ReadFile(db) == "restored");
  CHECK(ModeOf(db) == 0600);
  CHECK(outcome.moved_aside.empty());
}

TEST_CASE("RestoreSqliteDatabase changes nothing when it cannot finish", "[restore]") {
  TempDir temp;
  Log log;
  const std::string db = temp.path + "/state.db";
  WriteFile(db, "old database");
  WriteFile(db + "-wal", "old wal");
  WriteFile(temp.path + "/staged", "restored");
  // An earlier restore in the same second left its -old-<unix> WAL: nothing moves.
  const std::string old = db + "-old-" + std::to_string(kNow);
  WriteFile(old + "-wal", "leftover");
  RequireError(
      [&] {
        RestoreSqliteDatabase({db, temp.path + "/staged", false, kNow}, log.callback());
      },
      ErrorKind::kConflict, old + "-wal");
  CHECK(ReadFile(db) == "old database");
  CHECK(ReadFile(db + "-wal") == "old wal");
  CHECK_FALSE(fs::exists(old));
  CHECK_FALSE(fs::exists(db + ".restoring-" + std::to_string(kNow)));
  // A staged file that cannot be read: the old database stays, no half-written file is left.
  fs::remove(old + "-wal");
  RequireError(
      [&] {
        RestoreSqliteDatabase({db, temp.path + "/missing", false, kNow}, log.callback());
      },
      ErrorKind::kNotFound, temp.path + "/missing");
  CHECK(ReadFile(db) == "old database");
  CHECK(ReadFile(db + "-wal") == "old wal");
  CHECK_FALSE(fs::exists(db + ".restoring-" + std::to_string(kNow)));
  RequireError(
      [&] {
        RestoreSqliteDatabase({"state.db", temp.path + "/staged", false, kNow}, log.callback());
      },
      ErrorKind::kInvalidInput, "absolute");
}

TEST_CASE("RestoreSqliteDatabase refuses while a process holds the database open", "[restore]") {
  TempDir temp;
  Log log;
  const std::string db = temp.path + "/state.db";
  WriteFile(db, "live database");
  WriteFile(temp.path + "/staged", "restored");
  // A child process standing in for k3s: it holds state.db open until killed.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int fd = ::open(db.c_str(), O_RDONLY);
    if (fd < 0) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  // Wait for the child's open, by what /proc shows.
  for (int i = 0; i < 1000 && ProcessesHoldingDatabase(db).empty(); ++i) ::usleep(10000);
  std::vector<OpenFileHolder> holders = ProcessesHoldingDatabase(db);
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == child);
  RequireError(
      [&] {
        RestoreSqliteDatabase({db, temp.path + "/staged", false, kNow}, log.callback());
      },
      ErrorKind::kConflict, "pid " + std::to_string(child));
  CHECK(ReadFile(db) == "live database");
  // --force restores anyway.
  RestoreSqliteDatabase({db, temp.path + "/staged", true, kNow}, log.callback());
  CHECK(ReadFile(db) == "restored");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(ProcessesHoldingDatabase(db).empty());
}

TEST_CASE("ParentOf and BaseNameOf", "[restore]") {
  CHECK(ParentOf("/var/lib/etcd") == "/var/lib");
  CHECK(ParentOf("/var/lib/etcd/") == "/var/lib");
  CHECK(ParentOf("/etcd") == "/");
  CHECK(ParentOf("etcd") == ".");
  CHECK(ParentOf("//a//b") == "//a");
  CHECK(BaseNameOf("/var/lib/etcd") == "etcd");
  CHECK(BaseNameOf("/var/lib/etcd/") == "etcd");
  CHECK(BaseNameOf("etcdctl") == "etcdctl");
}
