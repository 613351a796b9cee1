// The host-side restore steps for k3s (`k3s server --cluster-reset`), plain etcd
// (`etcdutl snapshot restore`) and the server token, with the undo of each.
#include "restore/data_dir_restore.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <thread>

#include "core/durable_file.h"
#include "core/error.h"
#include "restore/file_moves.h"

namespace snapd {
namespace {

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    bool plain = !arg.empty() && arg.find_first_of(" \t'\"") == std::string::npos;
    line += plain ? arg : "'" + arg + "'";
  }
  return line;
}

void RequireAbsolute(const std::string& path, const std::string& flag, const std::string& mode) {
  if (path.empty()) throw Error::InvalidInput(flag + " is required in " + mode + " mode");
  if (path.front() != '/') {
    throw Error::InvalidInput(flag + " must be an absolute path, not " + path);
  }
}

void RequireStagedSnapshot(const std::string& staged_path) {
  if (staged_path.empty()) throw Error::InvalidInput("no staged snapshot file to restore from");
  struct stat st;
  if (::stat(staged_path.c_str(), &st) != 0) {
    throw Error::InvalidInput("staged snapshot " + staged_path + " does not exist");
  }
  if (!S_ISREG(st.st_mode)) {
    throw Error::InvalidInput("staged snapshot " + staged_path + " is not a regular file");
  }
}

// k3s names its own move of server/db/etcd etcd-old-<its unix time>. Started within the second
// of ours, its rename would land on our (non-empty) etcd-old-<unix> and fail; so k3s starts
// only once that second has passed. `now_unix` far from the clock (tests, a skewed caller)
// cannot clash and is not waited for.
void WaitUntilSecondPassed(int64_t unix_seconds) {
  for (int tries = 0; tries < 40; ++tries) {
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (now > unix_seconds || unix_seconds - now > 2) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The etcd-old-* entries k3s made while it ran (from the near-empty etcd dir it creates at
// start-up, since ours was already moved aside).
std::vector<std::string> NewEntries(const std::vector<std::string>& before,
                                    const std::vector<std::string>& after,
                                    const std::string& ours) {
  std::vector<std::string> added;
  for (const std::string& name : after) {
    if (name != ours && std::find(before.begin(), before.end(), name) == before.end()) {
      added.push_back(name);
    }
  }
  return added;
}

struct K3sPaths {
  explicit K3sPaths(const K3sRestoreOptions& options) {
    std::string unix = std::to_string(options.now_unix);
    std::string data_dir = options.data_dir;
    while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
    db = data_dir + "/server/db";
    etcd = db + "/etcd";
    old = etcd + "-old-" + unix;
    failed = etcd + "-failed-" + unix;
    reset_flag = db + "/reset-flag";
    reset_flag_failed = reset_flag + "-failed-" + unix;
  }
  std::string db, etcd, old, failed, reset_flag, reset_flag_failed;
};

// After k3s failed: what it left goes to etcd-failed-<unix>, the old data back to etcd. Returns
// where the old data is now, for the error message.
std::string UndoK3sRestore(const K3sPaths& paths, bool had_etcd, bool had_reset_flag,
                           const RestoreLog& log) {
  if (PathExists(paths.etcd)) MoveNoReplace(paths.etcd, paths.failed, log);
  // k3s writes reset-flag once its restore is done; left beside the old data it would make the
  // next plain start re-bootstrap as after a reset.
  if (!had_reset_flag && PathExists(paths.reset_flag)) {
    MoveNoReplace(paths.reset_flag, paths.reset_flag_failed, log);
  }
  if (!had_etcd) return "";
  MoveNoReplace(paths.old, paths.etcd, log);
  return paths.etcd;
}

std::vector<std::string> K3sNextSteps(const K3sPaths& paths, bool had_etcd,
                                      const std::vector<std::string>& k3s_made) {
  std::vector<std::string> steps = {
      "On every other server of this cluster: stop k3s (systemctl stop k3s) and delete its etcd "
      "data (rm -rf " +
          paths.db + ", or its own <data-dir>/server/db) so that it rejoins the restored cluster",
      "Here: start k3s again, without the --cluster-reset flags: systemctl start k3s",
      "Then start k3s on the other servers (systemctl start k3s); they join the restored cluster",
  };
  if (had_etcd) {
    steps.push_back("The pre-restore etcd data stays at " + paths.old + " until you remove it");
  }
  for (const std::string& name : k3s_made) {
    steps.push_back("k3s also moved the etcd dir it creates at start-up to " + paths.db + "/" +
                    name + "; remove it with the pre-restore data");
  }
  return steps;
}

// etcd refuses a member whose --name is not in --initial-cluster; say so before anything moves.
void RequireNameInCluster(const std::string& name, const std::string& initial_cluster) {
  size_t start = 0;
  while (start <= initial_cluster.size()) {
    size_t end = initial_cluster.find(',', start);
    if (end == std::string::npos) end = initial_cluster.size();
    std::string member = initial_cluster.substr(start, end - start);
    if (member.compare(0, name.size() + 1, name + "=") == 0) return;
    start = end + 1;
  }
  throw Error::InvalidInput("--initial-cluster " + initial_cluster + " has no member named " +
                            name + " (--etcd-name)");
}

std::string ChooseRestoreTool(const EtcdRestoreOptions& options) {
  if (!options.restore_tool.empty()) return options.restore_tool;
  return FindInPath("etcdutl").empty() ? "etcdctl" : "etcdutl";
}

std::vector<std::string> EtcdNextSteps(const EtcdRestoreOptions& options,
                                       const std::string& moved_aside) {
  std::vector<std::string> steps = {
      "Start etcd from the restored data: etcd --data-dir " + options.data_dir + " --name " +
          options.name + " --initial-cluster " + options.initial_cluster +
          " --initial-cluster-token " + options.initial_cluster_token +
          " --initial-advertise-peer-urls " + options.initial_advertise_peer_urls +
          " plus your usual listen, advertise and TLS flags",
      "The restored member starts a new cluster (new cluster ID): restore every other member "
      "from the same snapshot, each with its own --etcd-name and --initial-advertise-peer-urls "
      "and the same --initial-cluster and --initial-cluster-token, before starting it; members "
      "left with their old data cannot join",
  };
  if (!moved_aside.empty()) {
    steps.push_back("The pre-restore data stays at " + moved_aside + " until you remove it");
  }
  return steps;
}

}  // namespace

bool HoldsK3sServer(const std::string& data_dir) {
  if (data_dir.empty()) return false;
  for (const char* part : {"/server/db/etcd", "/server/token", "/server/cred"}) {
    if (PathExists(data_dir + part)) return true;
  }
  return false;
}

RestoreOutcome RestoreK3s(const K3sRestoreOptions& options, ProcessRunner& runner,
                          const RestoreLog& log) {
  RequireAbsolute(options.data_dir, "--data-dir", "k3s");
  RequireStagedSnapshot(options.staged_path);
  // k3s unzips a restore path ending in .zip; the staged file is already plain.
  if (options.staged_path.size() >= 4 &&
      options.staged_path.compare(options.staged_path.size() - 4, 4, ".zip") == 0) {
    throw Error::InvalidInput("staged snapshot " + options.staged_path +
                              " ends in .zip, which k3s would try to unzip");
  }
  if (options.k3s_binary.empty()) throw Error::InvalidInput("no k3s binary to run");

  K3sPaths paths(options);
  bool had_etcd = PathExists(paths.etcd);
  if (had_etcd) RequireAbsent(paths.old);
  RequireAbsent(paths.failed);
  bool had_reset_flag = PathExists(paths.reset_flag);
  std::vector<std::string> old_before = EntriesStartingWith(paths.db, "etcd-old-");

  if (had_etcd) {
    MoveNoReplace(paths.etcd, paths.old, log);
    WaitUntilSecondPassed(options.now_unix);
  }

  // --etcd-s3=false: with etcd-s3 in k3s's config.yaml (shared with k3s-snapd), k3s would take
  // the restore path for an S3 object name and download it. The command line wins over it.
  std::vector<std::string> argv = {options.k3s_binary,
                                   "server",
                                   "--cluster-reset",
                                   "--cluster-reset-restore-path=" + options.staged_path,
                                   "--data-dir=" + options.data_dir,
                                   "--etcd-s3=false"};
  log("running " + CommandLine(argv));
  std::string failure;
  ErrorKind failure_kind = ErrorKind::kPermanent;
  try {
    int status = runner.Run(argv);
    if (status != 0) {
      failure = "k3s server --cluster-reset exited with status " + std::to_string(status);
    } else if (!IsDirectory(paths.etcd)) {
      failure = "k3s server --cluster-reset exited with status 0 but left no " + paths.etcd;
    }
  } catch (const Error& e) {
    failure = std::string("k3s server --cluster-reset could not run: ") + e.what();
    failure_kind = e.kind();
  } catch (const std::exception& e) {
    failure = std::string("k3s server --cluster-reset could not run: ") + e.what();
  }
  std::vector<std::string> k3s_made =
      NewEntries(old_before, EntriesStartingWith(paths.db, "etcd-old-"), BaseNameOf(paths.old));

  if (!failure.empty()) {
    std::string where;
    try {
      where = UndoK3sRestore(paths, had_etcd, had_reset_flag, log);
    } catch (const std::exception& e) {
      throw Error::Permanent(failure + "; putting the old etcd data back failed too (" + e.what() +
                             "); the old etcd data is at " +
                             (PathExists(paths.old) ? paths.old : paths.etcd));
    }
    throw Error(failure_kind,
                failure +
                    (had_etcd ? "; the old etcd data is back at " + where
                              : "; there was no old etcd data") +
                    (PathExists(paths.failed) ? "; what k3s left is at " + paths.failed : ""));
  }

  RestoreOutcome outcome;
  outcome.moved_aside = had_etcd ? paths.old : "";
  outcome.next_steps = K3sNextSteps(paths, had_etcd, k3s_made);
  return outcome;
}

SnapshotRestoreCommand MakeSnapshotRestoreCommand(const EtcdRestoreOptions& options,
                                                  const std::string& into_dir) {
  const std::string tool = ChooseRestoreTool(options);
  SnapshotRestoreCommand command;
  command.argv = {tool,
                  "snapshot",
                  "restore",
                  options.staged_path,
                  "--data-dir",
                  into_dir,
                  "--name",
                  options.name,
                  "--initial-cluster",
                  options.initial_cluster,
                  "--initial-cluster-token",
                  options.initial_cluster_token,
                  "--initial-advertise-peer-urls",
                  options.initial_advertise_peer_urls};
  // etcdctl before 3.4 speaks the v2 API unless told, and v2 has no snapshot restore.
  if (BaseNameOf(tool) == "etcdctl") command.environment.push_back("ETCDCTL_API=3");
  return command;
}

RestoreOutcome RestoreEtcdDataDir(const EtcdRestoreOptions& options, ProcessRunner& runner,
                                  const RestoreLog& log) {
  RequireStagedSnapshot(options.staged_path);
  RequireAbsolute(options.data_dir, "--etcd-data-dir", "etcd");
  if (options.name.empty()) throw Error::InvalidInput("--etcd-name is required in etcd mode");
  if (options.initial_cluster.empty()) {
    throw Error::InvalidInput("--initial-cluster is required in etcd mode");
  }
  if (options.initial_advertise_peer_urls.empty()) {
    throw Error::InvalidInput("--initial-advertise-peer-urls is required in etcd mode");
  }
  if (options.initial_cluster_token.empty()) {
    throw Error::InvalidInput("--initial-cluster-token must not be empty");
  }
  RequireNameInCluster(options.name, options.initial_cluster);
  std::string data_dir = options.data_dir;
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  if (data_dir == "/") throw Error::InvalidInput("--etcd-data-dir must not be /");
  std::string parent = ParentOf(data_dir);
  if (!IsDirectory(parent)) {
    throw Error::InvalidInput("the parent of --etcd-data-dir, " + parent + ", is not a directory");
  }
  bool had_data = PathExists(data_dir);
  if (had_data && !IsDirectory(data_dir)) {
    throw Error::InvalidInput("--etcd-data-dir " + data_dir + " exists and is not a directory");
  }

  // Beside the data dir, so that the final rename stays on one filesystem.
  std::string suffix = ".restoring-" + std::to_string(options.now_unix);
  std::string restoring = data_dir + suffix;
  std::string old = data_dir + "-old-" + std::to_string(options.now_unix);
  RequireAbsent(restoring);
  if (had_data) RequireAbsent(old);

  const SnapshotRestoreCommand restore = MakeSnapshotRestoreCommand(options, restoring);
  const std::vector<std::string>& argv = restore.argv;
  std::string command = BaseNameOf(argv.front()) + " snapshot restore";

  // Removes the half-made dir; a failure to do so is added to `failure`, never hides it.
  auto discard_restoring = [&](std::string failure) {
    try {
      RemoveDirectoryWeMade(restoring, suffix, log);
    } catch (const std::exception& e) {
      failure += "; removing " + restoring + " failed too (" + e.what() + "), remove it by hand";
    }
    return failure + "; " + data_dir + " was not changed";
  };

  log("running " + CommandLine(argv));
  int status = 0;
  try {
    status = runner.Run(argv, restore.environment);
  } catch (const Error& e) {
    throw Error(e.kind(), discard_restoring(command + " could not run: " + e.what()));
  }
  if (status != 0) {
    throw Error::Permanent(
        discard_restoring(command + " exited with status " + std::to_string(status)));
  }
  struct stat st;
  if (::lstat(restoring.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error::Permanent(command + " exited with status 0 but made no directory " + restoring +
                           "; " + data_dir + " was not changed");
  }
  // etcd wants its data dir private (it warns, and k3s chmods it, when it is not).
  log("restricting " + restoring + " to mode 0700");
  if (::chmod(restoring.c_str(), 0700) != 0) {
    int err = errno;
    throw Error::Permanent(discard_restoring("chmod " + restoring + ": " + std::strerror(err)));
  }

  if (had_data) {
    try {
      MoveNoReplace(data_dir, old, log);
    } catch (const Error& e) {
      throw Error(e.kind(), discard_restoring(e.what()));
    }
  }
  try {
    MoveNoReplace(restoring, data_dir, log);
  } catch (const Error& e) {
    std::string failure = e.what();
    if (had_data) {
      try {
        MoveNoReplace(old, data_dir, log);
      } catch (const std::exception& undo) {
        throw Error::Permanent(failure + "; moving the old data back failed too (" + undo.what() +
                               "); it is at " + old + ", the restored data at " + restoring);
      }
    }
    throw Error(e.kind(), discard_restoring(failure));
  }

  RestoreOutcome outcome;
  outcome.moved_aside = had_data ? old : "";
  outcome.next_steps = EtcdNextSteps(options, outcome.moved_aside);
  return outcome;
}

std::string RestoreTokenFile(const std::string& token_file, const std::string& token,
                             int64_t now_unix, const RestoreLog& log) {
  if (token_file.empty() || token_file.front() != '/') {
    throw Error::InvalidInput("token-file must be an absolute path, not \"" + token_file + "\"");
  }
  if (token.empty()) throw Error::InvalidInput("the token to restore is empty");
  struct stat st;
  bool had_token = ::lstat(token_file.c_str(), &st) == 0;
  if (had_token && S_ISDIR(st.st_mode)) {
    throw Error::InvalidInput("token file " + token_file + " is a directory");
  }
  std::string unix = std::to_string(now_unix);
  std::string old = token_file + "-old-" + unix;
  std::string writing = token_file + ".restoring-" + unix;
  if (had_token) RequireAbsent(old);
  RequireAbsent(writing);
  MakePrivateDirectories(ParentOf(token_file), [&](const std::string& dir) {
    log("creating directory " + dir + " (mode 0700)");
  });

  // Written in full before the old token moves, so a failed write leaves the old one in place.
  WritePrivateFileDurably(writing, token, log);
  try {
    if (had_token) MoveNoReplace(token_file, old, log);
  } catch (...) {
    ::unlink(writing.c_str());
    throw;
  }
  try {
    MoveNoReplace(writing, token_file, log);
  } catch (const std::exception& e) {
    ::unlink(writing.c_str());
    if (had_token) {
      try {
        MoveNoReplace(old, token_file, log);
      } catch (const std::exception& undo) {
        throw Error::Permanent(std::string(e.what()) + "; moving the old token back failed too (" +
                               undo.what() + "); it is at " + old);
      }
    }
    throw;
  }
  return had_token ? old : "";
}

}  // namespace snapd
