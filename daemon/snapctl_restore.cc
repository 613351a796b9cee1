// snapctl verify and snapctl restore. The daemon fetches, decrypts, decompresses and verifies a
// snapshot into a staged file (it holds the keys and the stores); snapctl, run by root at a
// terminal, then does the host steps: move the old data aside and let k3s or etcdutl restore.
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "core/time_format.h"
#include "restore/data_dir_restore.h"
#include "restore/sqlite_restore.h"
#include "snapctl_cli.h"
#include "snapshot/snapshot_name.h"

namespace snapd {

const char* const kVerifyHelp =
    R"(Usage: snapctl verify [-o text|json] [--no-progress] NAME... | --all

Reads each named snapshot back from every store holding it (local and S3), decrypts and
decompresses it as its name says, and checks the stored bytes against the recorded sha256 and
size, then an etcd snapshot against its SHA-256 trailer (what etcdutl checks on restore), or
a SQLite (kine) snapshot with SQLite's integrity check, kine's table and the recorded revision.
Exits 0 only when every copy passed; otherwise names what failed and exits 1.

Options:
  --all             verify every listed snapshot
  -o, --output FMT  text (default): a line per copy; json: the reports
  --no-progress     show no progress
  -h, --help        show this help

Encrypted snapshots need etcd-snapshot-encryption-identity-file in the daemon's config.
)";

const char* const kRestoreHelp = R"(Usage: snapctl restore NAME [-o text|json] [OPTIONS]
       snapctl restore [NAME] --to-time RFC3339 | --to-revision N [OPTIONS]

Restores the datastore from snapshot NAME. The daemon first fetches it (local copy first, else
S3), decrypts, decompresses and verifies it into a staged file; nothing is touched unless that
succeeds.

With --to-time or --to-revision (etcd, with etcd-snapshot-incremental-interval on), the daemon
builds the snapshot of that moment: base NAME (default: the newest of this node at or before the
moment) restored into a private etcd, its increments replayed one revision at a time up to the
moment, snapshotted and checked. A time names the last revision the daemon had received at or
before it. A moment outside the base's recoverable window (snapctl ls shows it) is refused with
the window named. Refused while etcd still answers at the daemon's etcd-endpoint (or, on SQLite, while
a process such as k3s has state.db open): stop k3s or etcd first, or pass --force. Old data is
moved aside, never deleted; a failed step puts it back.

k3s mode (default, when the k3s data-dir holds a server): moves server/db/etcd to
etcd-old-<unix> and runs `k3s server --cluster-reset --cluster-reset-restore-path=<staged>`.
Refused when the snapshot was taken with another server token, unless --restore-token puts
the token saved with it (encrypted snapshots only) back first.

etcd mode (with --etcd-data-dir): `etcdutl snapshot restore` (or etcdctl's) into a new dir,
then the old DIR is moved to DIR-old-<unix> and the new one takes its place.

SQLite (a snapshot of k3s's kine database, on a server whose datastore is SQLite): state.db,
state.db-wal and state.db-shm move to state.db-old-<unix>[-wal|-shm] and the verified copy
takes their place with the old file's owner and mode. The token check and --restore-token
work as in k3s mode.

Options:
  --yes                 do not ask for confirmation (required when stdin is not a terminal)
  --force               restore even though etcd answers (or k3s holds state.db)
  --storage local|s3    take the snapshot from this store
  --to-time T           restore to the moment T (RFC 3339, e.g. 2026-12-07T10:00:00Z)
  --to-revision N       restore to etcd revision N
  --restore-token       put the server token saved with the snapshot back (k3s mode)
  --k3s PATH            k3s binary (default k3s, from PATH)
  --data-dir DIR        k3s data-dir (default: the daemon's data-dir)
  --etcd-data-dir DIR   etcd mode: the data dir etcd will run from
  --etcd-name N         etcd mode: the member name (etcd --name)
  --initial-cluster C   etcd mode: e.g. n1=http://10.0.0.1:2380
  --initial-advertise-peer-urls U
                        etcd mode: this member's peer URLs
  --initial-cluster-token T
                        etcd mode: default etcd-cluster
  --etcdutl PATH        etcd mode: the restore tool (default etcdutl, else etcdctl)
  --no-progress         show no progress
  -o, --output FMT      text (default): what was done and the next steps; json: the same
                        as {"name", "staged", "movedAside", "nextSteps"}
  -h, --help            show this help
)";

namespace {

// Each step goes to the terminal and to the journal, where the daemon's side of it is too.
void LogStep(const std::string& step) {
  std::cerr << "restore: " << step << "\n";
  sd_journal_send("MESSAGE=restore: %s", step.c_str(), "PRIORITY=6", "SYSLOG_IDENTIFIER=snapctl",
                  nullptr);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error::NotFound("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Removes the staged files, which hold the decrypted snapshot and token, whatever happens.
class StagedFiles {
 public:
  ~StagedFiles() {
    for (const std::string& path : paths_) {
      if (!path.empty()) ::unlink(path.c_str());
    }
  }
  void Add(const std::string& path) { paths_.push_back(path); }

 private:
  std::vector<std::string> paths_;
};

bool Confirm(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

int VerifyCommand(Invocation& in) {
  in.format = "text";
  bool all = false;
  bool progress = true;
  std::vector<std::string> names;
  while (!in.args.Done()) {
    if (in.args.Peek() == "--all") {
      all = true;
      in.args.Next();
    } else if (in.args.Peek() == "--no-progress") {
      progress = false;
      in.args.Next();
    } else if (OutputOption(in, {"text", "json"})) {
    } else if (in.args.Peek().starts_with("-")) {
      Unexpected(in);
    } else {
      names.push_back(in.args.Next());
    }
  }
  if (all == !names.empty()) throw UsageError(in.command, "give snapshot names or --all");
  for (const std::string& name : names) {
    try {
      ValidateSnapshotName(name);
    } catch (const Error& e) {
      throw UsageError(in.command, e.what());
    }
  }
  if (all) names.push_back("");

  int result = kOk;
  nlohmann::json reports = nlohmann::json::array();
  for (const std::string& name : names) {
    nlohmann::json request = all ? nlohmann::json{{"all", true}} : nlohmann::json{{"name", name}};
    nlohmann::json started = Expect2xx(in.client.Post("/v1/verify", request.dump()));
    std::optional<nlohmann::json> job =
        WaitForJob(in.client, started["job"], all ? "verifying all" : "verifying " + name,
                   ChooseProgressMode(progress));
    if (!job) {
      std::cerr << "snapctl: stopped waiting; the verify goes on in k3s-snapd\n";
      return kInterrupted;
    }
    const nlohmann::json verified =
        job->contains("result") ? (*job)["result"].value("verified", nlohmann::json::array())
                                : nlohmann::json::array();
    if (verified.empty()) {
      // Failed before reading anything (not found, no identity): the job's error says why.
      std::cerr << "snapctl: verify " << (all ? "--all" : name) << ": "
                << TextOr(*job, "error", "unknown error") << "\n";
      result = kFailed;
      continue;
    }
    for (const nlohmann::json& r : verified) {
      reports.push_back(r);
      if (r.value("ok", false)) {
        if (in.format == "text") {
          std::cout << "OK      " << TextOr(r, "storage", "") << "  " << TextOr(r, "name", "")
                    << "  (" << FormatHumanBytes(NumberOr(r, "snapshotSize", 0))
                    << (TextOr(r, "datastore", "etcd") == "sqlite"
                            ? " SQLite database, integrity check, revision and record match)\n"
                            : " etcd snapshot, trailer and record match)\n");
        }
      } else {
        result = kFailed;
        if (in.format == "text") {
          std::cout << "FAILED  " << TextOr(r, "storage", "") << "  " << TextOr(r, "name", "")
                    << ": " << TextOr(r, "error", "") << "\n";
        }
      }
    }
  }
  if (in.format == "json") PrintJson(reports);
  return result;
}

int RestoreCommand(Invocation& in) {
  std::string name;
  std::string storage;
  bool yes = false;
  bool force = false;
  bool restore_token = false;
  bool progress = true;
  std::string to_time;
  std::optional<int64_t> to_revision;
  K3sRestoreOptions k3s;
  EtcdRestoreOptions etcd;
  bool data_dir_given = false;
  in.format = "text";
  while (!in.args.Done()) {
    const std::string& a = in.args.Peek();
    if (OutputOption(in, {"text", "json"})) {
    } else if (a == "--yes" || a == "-y") {
      yes = true;
      in.args.Next();
    } else if (a == "--force") {
      force = true;
      in.args.Next();
    } else if (a == "--restore-token") {
      restore_token = true;
      in.args.Next();
    } else if (a == "--no-progress") {
      progress = false;
      in.args.Next();
    } else if (auto v = in.args.Option({"--storage"}, in.command)) {
      storage = *v;
      if (storage != "local" && storage != "s3") {
        throw UsageError(in.command, "--storage must be local or s3");
      }
    } else if (auto v = in.args.Option({"--to-time"}, in.command)) {
      if (!ParseRfc3339(*v)) {
        throw UsageError(in.command,
                         "--to-time must be an RFC 3339 time, e.g. "
                         "2026-12-07T10:00:00Z; got \"" +
                             *v + "\"");
      }
      to_time = *v;
    } else if (auto v = in.args.Option({"--to-revision"}, in.command)) {
      int64_t revision = 0;
      auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), revision);
      if (ec != std::errc() || end != v->data() + v->size() || revision < 1) {
        throw UsageError(in.command, "--to-revision must be a revision (a whole number from 1)");
      }
      to_revision = revision;
    } else if (auto v = in.args.Option({"--k3s"}, in.command)) {
      k3s.k3s_binary = *v;
    } else if (auto v = in.args.Option({"--data-dir"}, in.command)) {
      k3s.data_dir = *v;
      data_dir_given = true;
    } else if (auto v = in.args.Option({"--etcd-data-dir"}, in.command)) {
      etcd.data_dir = *v;
    } else if (auto v = in.args.Option({"--etcd-name"}, in.command)) {
      etcd.name = *v;
    } else if (auto v = in.args.Option({"--initial-cluster"}, in.command)) {
      etcd.initial_cluster = *v;
    } else if (auto v = in.args.Option({"--initial-advertise-peer-urls"}, in.command)) {
      etcd.initial_advertise_peer_urls = *v;
    } else if (auto v = in.args.Option({"--initial-cluster-token"}, in.command)) {
      etcd.initial_cluster_token = *v;
    } else if (auto v = in.args.Option({"--etcdutl"}, in.command)) {
      etcd.restore_tool = *v;
    } else if (a.starts_with("-") || !name.empty()) {
      Unexpected(in);
    } else {
      name = in.args.Next();
    }
  }
  const bool point_in_time = !to_time.empty() || to_revision.has_value();
  if (!to_time.empty() && to_revision) {
    throw UsageError(in.command, "give --to-time or --to-revision, not both");
  }
  if (name.empty() && !point_in_time) {
    throw UsageError(in.command, "which snapshot? (snapctl ls lists them)");
  }
  try {
    if (!name.empty()) ValidateSnapshotName(name);
  } catch (const Error& e) {
    throw UsageError(in.command, e.what());
  }
  // What the messages call it: the snapshot, or the moment.
  std::string moment = name;
  if (point_in_time) {
    moment = !to_time.empty() ? to_time : "revision " + std::to_string(*to_revision);
    if (!name.empty()) moment += " (from " + name + ")";
  }
  const bool etcd_mode = !etcd.data_dir.empty();
  if (etcd_mode) {
    if (!etcd.data_dir.starts_with("/")) {
      throw UsageError(in.command, "--etcd-data-dir must be an absolute path");
    }
    for (const auto& [flag, value] :
         {std::pair{"--etcd-name", etcd.name}, std::pair{"--initial-cluster", etcd.initial_cluster},
          std::pair{"--initial-advertise-peer-urls", etcd.initial_advertise_peer_urls}}) {
      if (value.empty())
        throw UsageError(in.command, std::string(flag) + " is required with --etcd-data-dir");
    }
    if (restore_token) throw UsageError(in.command, "--restore-token is for k3s mode only");
  }
  if (!yes) {
    if (!isatty(STDIN_FILENO)) {
      throw UsageError(in.command, "a restore replaces etcd's data; confirm with --yes");
    }
    const std::string target = etcd_mode ? "etcd data dir " + etcd.data_dir : "k3s's datastore";
    if (!Confirm("Restore " + target + (point_in_time ? " to " : " from snapshot ") + moment +
                 "? The current data is moved aside.")) {
      std::cerr << "snapctl: restore not confirmed; nothing was changed\n";
      return kFailed;
    }
  }

  // 1. The daemon fetches, decodes and verifies the snapshot into a staged file.
  nlohmann::json request = {{"force", force}, {"restoreToken", restore_token}};
  if (!name.empty()) request["name"] = name;
  if (!storage.empty()) request["storage"] = storage;
  if (!to_time.empty()) request["toTime"] = to_time;
  if (to_revision) request["toRevision"] = *to_revision;
  nlohmann::json started = Expect2xx(in.client.Post("/v1/restore", request.dump()));
  LogStep((point_in_time ? "building the snapshot of " : "fetching, decoding and verifying ") +
          moment + " (job " + std::to_string(started["job"]["id"].get<uint64_t>()) + ")");
  std::optional<nlohmann::json> job =
      WaitForJob(in.client, started["job"], (point_in_time ? "building " : "fetching ") + moment,
                 ChooseProgressMode(progress));
  if (!job) {
    std::cerr << "snapctl: stopped waiting; nothing was changed (the daemon removes nothing "
                 "it staged until the next restore)\n";
    return kInterrupted;
  }
  if ((*job)["state"] != "succeeded") {
    std::cerr << "snapctl: restore refused: " << TextOr(*job, "error", "unknown error")
              << "\nNothing was changed.\n";
    return kFailed;
  }
  const nlohmann::json& result = (*job)["result"];
  StagedFiles staged_files;
  const std::string staged = TextOr(result, "staged", "");
  const std::string staged_token = TextOr(result, "stagedToken", "");
  staged_files.Add(staged);
  staged_files.Add(staged_token);
  const nlohmann::json& record = result["record"];
  if (name.empty()) name = TextOr(record, "name", "");
  const nlohmann::json pit = result.value("pointInTime", nlohmann::json(nullptr));
  if (pit.is_object()) {
    LogStep("built the snapshot of " + TextOr(pit, "target", moment) + ": base " + name +
            " at revision " + std::to_string(NumberOr(pit, "baseRevision", 0)) + ", " +
            std::to_string(NumberOr(pit, "replayedRevisions", 0)) +
            " revisions replayed to revision " + std::to_string(NumberOr(pit, "revision", 0)) +
            (pit.contains("receivedAt") ? " (received " + TextOr(pit, "receivedAt", "") + ")"
                                        : std::string()) +
            ", HashKV " + std::to_string(pit["hashKV"].value("hash", uint64_t{0})));
  }
  // What was restored, for the last lines: the snapshot, or the moment built from it.
  const std::string restored =
      pit.is_object() ? name + " at revision " + std::to_string(NumberOr(pit, "revision", 0))
                      : name;
  const bool sqlite = TextOr(result, "datastore", "etcd") == "sqlite";
  // A moment's snapshot was built from the base, not fetched as it is: say which it is.
  LogStep((pit.is_object() ? "checked the snapshot of " + restored + " (built from " +
                                 TextOr(record, "location", name) + ")"
                           : "verified " + TextOr(record, "location", name)) +
          ": " + FormatHumanBytes(NumberOr(result, "snapshotSize", 0)) +
          (sqlite ? " SQLite database" : " etcd snapshot") + " staged at " + staged);

  const int64_t now = NowUnix();
  RestoreOutcome outcome;
  SystemProcessRunner runner;
  try {
    if (sqlite && etcd_mode) {
      throw Error::InvalidInput("--etcd-data-dir is for etcd snapshots; " + name +
                                " is a SQLite one, restored in place of " +
                                TextOr(result, "datastoreLocation", "state.db"));
    }
    if (etcd_mode) {
      etcd.staged_path = staged;
      etcd.now_unix = now;
      outcome = RestoreEtcdDataDir(etcd, runner, LogStep);
    } else {
      if (!data_dir_given) k3s.data_dir = TextOr(result, "dataDir", "");
      if (!sqlite && !HoldsK3sServer(k3s.data_dir)) {
        throw Error::InvalidInput(
            k3s.data_dir +
            " holds no k3s server (no server/db/etcd, server/token or "
            "server/cred); for plain etcd give --etcd-data-dir and its flags");
      }
      const std::string snapshot_hash = TextOr(record, "tokenHash", "");
      const std::string current_hash = TextOr(result, "currentTokenHash", "");
      if (restore_token) {
        const std::string token_file = TextOr(result, "tokenFile", "");
        RestoreTokenFile(token_file, ReadWholeFile(staged_token), now, LogStep);
      } else if (!snapshot_hash.empty() && !current_hash.empty() && snapshot_hash != current_hash) {
        std::string how =
            record.value("tokenBackup", false)
                ? "rerun with --restore-token to put the token saved with it back"
                : "put that token back in " + TextOr(result, "tokenFile", "the token file") +
                      " (no token was saved with this snapshot; only encrypted ones carry it)";
        throw Error::Conflict("snapshot " + name + " was taken with another server token (hash " +
                              snapshot_hash + ", the current one is " + current_hash +
                              "): k3s could not decrypt its bootstrap data; " + how);
      }
      if (sqlite) {
        SqliteRestoreOptions options;
        options.db_path = TextOr(result, "datastoreLocation", "");
        options.staged_path = staged;
        options.force = force;
        options.now_unix = now;
        outcome = RestoreSqliteDatabase(options, LogStep);
      } else {
        k3s.staged_path = staged;
        k3s.now_unix = now;
        outcome = RestoreK3s(k3s, runner, LogStep);
      }
    }
  } catch (const Error& e) {
    std::cerr << "snapctl: restore failed: " << e.what() << "\n";
    return kFailed;
  }
  LogStep("done: " + restored + " restored" +
          (outcome.moved_aside.empty() ? "" : "; the old data is at " + outcome.moved_aside));
  if (in.format == "json") {
    PrintJson({{"name", name},
               {"pointInTime", pit},
               {"staged", staged},
               {"movedAside", outcome.moved_aside},
               {"nextSteps", outcome.next_steps}});
    return kOk;
  }
  std::cout << "Restored " << restored << ".\nNext steps:\n";
  for (const std::string& step : outcome.next_steps) std::cout << "  - " << step << "\n";
  return kOk;
}

}  // namespace snapd
