// snapctl: the command-line client of k3s-snapd's control socket. Exit codes: 0 success,
// 1 the operation failed (or the daemon could not be reached), 2 usage errors.
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/control_client.h"
#include "control/human_format.h"
#include "control/progress_bar.h"
#include "control/snapshot_query.h"
#include "core/error.h"
#include "core/time_format.h"
#include "snapctl_cli.h"
#include "snapshot/snapshot_name.h"
#include "snapshot/snapshot_record.h"

#ifndef K3S_SNAPD_VERSION
#define K3S_SNAPD_VERSION "unknown"
#endif

namespace snapd {
namespace {

constexpr const char* kDefaultSocket = "/run/k3s-snapd/snapd.sock";

constexpr const char* kHelp = R"(Usage: snapctl [--socket PATH] COMMAND [OPTIONS]

Commands:
  save      take a snapshot now and wait until it is stored (progress on a terminal)
  ls        list snapshots in every store (aliases: list, l)
  delete    delete snapshots from every store holding them (alias: rm)
  prune     apply retention (newest N, hourly, daily, weekly, monthly) to a name prefix
  status    etcd, stores, schedule, last success and failure, running job
  verify    read snapshots back and check them (--all for every one)
  restore   restore etcd (k3s or plain etcd) from a snapshot
  inspect   what a snapshot holds: revision, HashKV, keys and bytes per resource
  get       keys' values as they were in a snapshot
  diff      keys added, removed and changed between two snapshots
  undelete  put a snapshot's keys back into etcd where they are absent now
  cancel    stop the running job (a save leaves nothing behind)
  help      show help of snapctl or of a command

Global options:
  --socket PATH   control socket (default $K3S_SNAPD_SOCKET or /run/k3s-snapd/snapd.sock);
                  also accepted after the command
  -h, --help      show help (also after a command: snapctl save --help)
  --version       show snapctl's version

Commands that print data take -o json for exact, machine-readable output.
Exit status: 0 success, 1 the operation failed, 2 usage error.
)";

constexpr const char* kSaveHelp =
    R"(Usage: snapctl save [--name PREFIX] [-o name|json] [--no-progress]

Takes a snapshot of etcd now and waits until it is stored and verified in every configured
store, then prints its name (PREFIX-NODE-UNIXSECONDS).

Options:
  --name PREFIX     name prefix (default on-demand)
  -o, --output FMT  name (default): the snapshot's name; json: the finished job
  --no-progress     show no progress
  -h, --help        show this help

Progress goes to stderr: a live bar (bytes, percent, rate, ETA) when stderr is a terminal,
otherwise a plain line every 2 s, left out when stderr is the same file as stdout. stdout gets
only the name or the JSON, so name=$(snapctl save) works. Ctrl-C stops waiting; the save goes
on in k3s-snapd (see snapctl status).
)";

constexpr const char* kListHelp =
    R"(Usage: snapctl ls [--storage local|s3] [--node NODE] [--name PREFIX] [--limit N]
                  [-o table|wide|json|name]
       (aliases: list, l)

Lists the snapshots of every store, newest first. A store that cannot be listed is named on
stderr and makes the command exit 1; the snapshots of the others are still shown.

Options:
  --storage KIND    only the snapshots of that store (local or s3); the other is not listed
  --node NODE       only the snapshots taken by NODE
  --name PREFIX     only names starting with PREFIX (e.g. on-demand)
  --limit N         only the newest N (after the filters above)
  -o, --output FMT  table (default): human sizes and ages
                    wide: exact bytes and RFC 3339 creation times
                    json: the records as the API gives them (exact bytes, RFC 3339)
                    name: names only, one a line
  -h, --help        show this help

Columns: NAME, NODE, STORAGE, LOCATION, SIZE, CREATED, STATUS.
)";

constexpr const char* kDeleteHelp = R"(Usage: snapctl delete [-o text|json] NAME...
       (alias: rm)

Deletes each named snapshot (file or object, and its record) from every store holding it.
Exits 1 if any could not be deleted; the others still are. Several names go in one request:
each store is listed once and S3 deletes them in batches.

Options:
  -o, --output FMT  text (default) or json: [{"name", "deletedFrom"} or {"name", "error"}]
  -h, --help        show this help
)";

constexpr const char* kPruneHelp =
    R"(Usage: snapctl prune [--name PREFIX] [--snapshot-retention N] [--dry-run] [-o text|json]
                     [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N]

Applies retention to the ready snapshots whose names start with PREFIX- in each store and
deletes those no rule keeps. A snapshot is kept when any rule keeps it, as restic's forget:
the newest N, and the newest of each of the N most recent hours, days, ISO weeks or months
that have one (in UTC, or in the zone of the schedule's CRON_TZ=). Given no rule, the daemon's
etcd-snapshot-retention and etcd-snapshot-keep-* apply; given any, only the rules given do.
With every rule below 1 nothing is pruned, as in k3s.

Options:
  --name PREFIX             name prefix (default on-demand)
  --snapshot-retention N    keep the newest N (--etcd-snapshot-retention is accepted too);
                            N < 1 turns this rule off
  --keep-hourly N           keep the newest of each of the N most recent hours that have one
  --keep-daily N            the same for days
  --keep-weekly N           the same for ISO 8601 weeks (Monday to Sunday)
  --keep-monthly N          the same for months
                            (0 turns these off; --etcd-snapshot-keep-* are accepted too)
  --dry-run                 delete nothing: list each snapshot with keep or remove and why
  -o, --output FMT          text (default): what was pruned; json: every decision and why
  -h, --help                show this help
)";

constexpr const char* kStatusHelp = R"(Usage: snapctl status [-o text|json]

Shows etcd's reachability, each store's health, the schedule, the last successful and failed
saves since the daemon started, and the running job.

Options:
  -o, --output FMT  text (default) or json (exact, as the API gives it)
  -h, --help        show this help
)";

constexpr const char* kCancelHelp = R"(Usage: snapctl cancel [-o text|json] [JOB-ID]

Stops the running job (or job JOB-ID, which must be the running one) and waits until it has
stopped. A cancelled save leaves nothing behind: no local .part file, no S3 object or
incomplete multipart upload, no record. Exits 1 when no job is running or the job finished
before the cancel reached it.

Options:
  -o, --output FMT  text (default) or json: the job as it ended
  -h, --help        show this help
)";

constexpr const char* kHelpHelp = R"(Usage: snapctl help [COMMAND]

Shows snapctl's help, or the help of COMMAND (same as snapctl COMMAND --help).
)";

// --- commands ------------------------------------------------------------------------------

int Save(Invocation& in) {
  std::optional<std::string> prefix;
  bool progress = true;
  in.format = "name";
  while (!in.args.Done()) {
    if (auto v = in.args.Option({"--name"}, in.command)) {
      prefix = *v;
    } else if (in.args.Peek() == "--no-progress") {
      progress = false;
      in.args.Next();
    } else if (!OutputOption(in, {"name", "json"})) {
      Unexpected(in);
    }
  }
  if (prefix) {
    try {
      ValidateNamePrefix(*prefix, "--name");
    } catch (const Error& e) {
      throw UsageError(in.command, e.what());
    }
  }
  nlohmann::json request = nlohmann::json::object();
  if (prefix) request["name"] = *prefix;
  nlohmann::json started = Expect2xx(in.client.Post("/v1/snapshots", request.dump()));
  uint64_t id = started["job"]["id"].get<uint64_t>();
  nlohmann::json job = started["job"];

  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);

  ProgressDisplay display(ChooseProgressMode(progress));
  while (job["state"] == "running" && !interrupted) {
    std::string name = TextOr(job, "snapshot", "");
    display.Show(name.empty() ? "saving" : "saving " + name, NumberOr(job, "bytes", 0),
                 NumberOr(job, "total", 0));
    std::this_thread::sleep_for(kPollInterval);
    if (interrupted) break;
    job = Expect2xx(in.client.Get("/v1/jobs/" + std::to_string(id)));
  }
  display.Clear();
  if (job["state"] == "running") {
    std::cerr << "snapctl: stopped waiting; the save goes on in k3s-snapd (job " << id
              << ", see snapctl status)\n";
    return kInterrupted;
  }
  if (in.format == "json") PrintJson(job);
  if (job["state"] != "succeeded") {
    std::cerr << "snapctl: save failed: " << TextOr(job, "error", "unknown error") << "\n";
    return kFailed;
  }
  if (in.format == "name") std::cout << job["snapshot"].get<std::string>() << "\n";
  return kOk;
}

int CountOption(const Invocation& in, std::string_view flag, const std::string& text,
                bool non_negative);

int List(Invocation& in) {
  in.format = "table";
  SnapshotQuery query;
  while (!in.args.Done()) {
    if (auto v = in.args.Option({"--storage"}, in.command)) {
      if (*v != "local" && *v != "s3") {
        throw UsageError(in.command, "--storage " + *v + ": must be local or s3");
      }
      query.storage = *v;
    } else if (auto n = in.args.Option({"--node"}, in.command)) {
      query.node = *n;
    } else if (auto p = in.args.Option({"--name"}, in.command)) {
      query.name_prefix = *p;
    } else if (auto l = in.args.Option({"--limit"}, in.command)) {
      query.limit = static_cast<size_t>(CountOption(in, "--limit", *l, true));
    } else if (!OutputOption(in, {"table", "wide", "json", "name"})) {
      Unexpected(in);
    }
  }
  nlohmann::json answer = Expect2xx(in.client.Get("/v1/snapshots" + SnapshotQueryString(query)));
  const nlohmann::json& list = answer["snapshots"];
  // A store that could not be listed fails the command, but what the others hold is shown.
  int result = kOk;
  for (const nlohmann::json& e : answer["errors"]) {
    std::cerr << "snapctl: ls: " << TextOr(e, "storage", "?")
              << " could not be listed: " << TextOr(e, "error", "") << "\n";
    result = kFailed;
  }
  if (in.format == "json") {
    PrintJson(list);
    return result;
  }
  if (in.format == "name") {
    for (const nlohmann::json& item : list) std::cout << TextOr(item, "name", "") << "\n";
    return result;
  }
  bool wide = in.format == "wide";
  int64_t now = NowUnix();
  // Point-in-time recovery on: each base's window, as far as its increments reach.
  const bool windows = std::any_of(list.begin(), list.end(), [](const nlohmann::json& item) {
    return item.contains("recoverable");
  });
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "NODE", "STORAGE", "LOCATION", "SIZE", "CREATED", "STATUS"}};
  if (windows) rows[0].push_back("RECOVERABLE TO");
  for (const nlohmann::json& item : list) {
    SnapshotRecord r = RecordFromApiJson(item);
    rows.push_back({r.name, r.node, r.storage, r.location,
                    wide ? std::to_string(r.size) : FormatHumanBytes(r.size),
                    wide ? FormatRfc3339(r.created_at) : FormatAge(r.created_at, now), r.status});
    if (!windows) continue;
    const nlohmann::json window = item.value("recoverable", nlohmann::json(nullptr));
    std::string reach = "-";
    if (window.is_object()) {
      const std::string last = TextOr(window, "lastTime", "");
      std::optional<int64_t> t = ParseRfc3339(last);
      reach = "revision " + std::to_string(NumberOr(window, "lastRevision", 0)) + ", " +
              (wide || !t ? last : FormatAge(*t, now));
    }
    rows.back().push_back(reach);
  }
  PrintTable(rows);
  return result;
}

std::string PathEscape(const std::string& name) {
  std::string target;
  for (unsigned char c : name) {
    bool plain = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", c);
    target += plain ? std::string(1, static_cast<char>(c)) : std::string(buf);
  }
  return target;
}

int Delete(Invocation& in) {
  in.format = "text";
  std::vector<std::string> names;
  bool options_done = false;
  while (!in.args.Done()) {
    if (options_done || !in.args.Peek().starts_with("-") || in.args.Peek() == "-") {
      names.push_back(in.args.Next());
    } else if (in.args.Peek() == "--") {
      options_done = true;
      in.args.Next();
    } else if (!OutputOption(in, {"text", "json"})) {
      Unexpected(in);
    }
  }
  if (names.empty()) throw UsageError(in.command, "name at least one snapshot");
  for (const std::string& name : names) {
    try {
      ValidateSnapshotName(name);
    } catch (const Error& e) {
      throw UsageError(in.command, e.what());
    }
  }
  int result = kOk;
  nlohmann::json results = nlohmann::json::array();
  if (names.size() > 1) {
    // One request for all: the daemon lists each store once and S3 deletes them in batches.
    nlohmann::json body =
        Expect2xx(in.client.Post("/v1/delete", nlohmann::json{{"names", names}}.dump()));
    for (const nlohmann::json& item : body["results"]) {
      const std::string name = TextOr(item, "name", "");
      if (item.contains("error")) {
        results.push_back({{"name", name}, {"error", item["error"]}});
        std::cerr << "snapctl: delete " << name << ": " << TextOr(item, "error", "") << "\n";
        result = kFailed;
        continue;
      }
      results.push_back({{"name", name}, {"deletedFrom", item["deletedFrom"]}});
      if (in.format == "text") {
        std::string from;
        for (const nlohmann::json& s : item["deletedFrom"]) {
          from += (from.empty() ? "" : ", ") + s.get<std::string>();
        }
        std::cout << "deleted " << name << " (" << from << ")\n";
      }
    }
    if (in.format == "json") PrintJson(results);
    return result;
  }
  for (const std::string& name : names) {
    try {
      nlohmann::json body = Expect2xx(in.client.Delete("/v1/snapshots/" + PathEscape(name)));
      results.push_back({{"name", name}, {"deletedFrom", body["deletedFrom"]}});
      if (in.format == "text") {
        std::string from;
        for (const nlohmann::json& s : body["deletedFrom"]) {
          from += (from.empty() ? "" : ", ") + s.get<std::string>();
        }
        std::cout << "deleted " << name << " (" << from << ")\n";
      }
    } catch (const Error& e) {
      results.push_back({{"name", name}, {"error", e.what()}});
      std::cerr << "snapctl: delete " << name << ": " << e.what() << "\n";
      result = kFailed;
    }
  }
  if (in.format == "json") PrintJson(results);
  return result;
}

// The integer value of a count option; the calendar rules take no negative count.
int CountOption(const Invocation& in, std::string_view flag, const std::string& text,
                bool non_negative) {
  int n = 0;
  try {
    size_t used = 0;
    n = std::stoi(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw UsageError(in.command, std::string(flag) + " " + text + ": not an integer");
  }
  if (non_negative && n < 0) {
    throw UsageError(in.command, std::string(flag) + " " + text + ": must not be negative");
  }
  return n;
}

int Prune(Invocation& in) {
  in.format = "text";
  nlohmann::json request = nlohmann::json::object();
  bool dry_run = false;
  struct KeepOption {
    std::string_view flag;
    std::string_view long_flag;  // as the daemon's key
    const char* field;
  };
  constexpr KeepOption kKeepOptions[] = {
      {"--keep-hourly", "--etcd-snapshot-keep-hourly", "keepHourly"},
      {"--keep-daily", "--etcd-snapshot-keep-daily", "keepDaily"},
      {"--keep-weekly", "--etcd-snapshot-keep-weekly", "keepWeekly"},
      {"--keep-monthly", "--etcd-snapshot-keep-monthly", "keepMonthly"},
  };
  while (!in.args.Done()) {
    bool matched = false;
    for (const KeepOption& keep : kKeepOptions) {
      if (auto v = in.args.Option({keep.flag, keep.long_flag}, in.command)) {
        request[keep.field] = CountOption(in, keep.flag, *v, true);
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (auto v = in.args.Option({"--name"}, in.command)) {
      try {
        ValidateNamePrefix(*v, "--name");
      } catch (const Error& e) {
        throw UsageError(in.command, e.what());
      }
      request["name"] = *v;
    } else if (auto r = in.args.Option({"--snapshot-retention", "--etcd-snapshot-retention"},
                                       in.command)) {
      request["retention"] = CountOption(in, "--snapshot-retention", *r, false);
    } else if (in.args.Peek() == "--dry-run") {
      in.args.Next();
      dry_run = true;
      request["dryRun"] = true;
    } else if (!OutputOption(in, {"text", "json"})) {
      Unexpected(in);
    }
  }
  nlohmann::json body = Expect2xx(in.client.Post("/v1/prune", request.dump()));
  int result = kOk;
  for (const nlohmann::json& store : body["stores"]) {
    if (dry_run && in.format == "text") {
      for (const nlohmann::json& d : store["decisions"]) {
        std::cout << (d.value("keep", true) ? "keep    " : "remove  ") << TextOr(d, "name", "?")
                  << " (" << TextOr(store, "storage", "?") << "): " << TextOr(d, "reason", "")
                  << "\n";
      }
    }
    for (const nlohmann::json& name : store["removed"]) {
      if (in.format == "text") {
        std::cout << "pruned " << name.get<std::string>() << " (" << TextOr(store, "storage", "?")
                  << ")\n";
      }
    }
    for (const nlohmann::json& error : store["errors"]) {
      std::cerr << "snapctl: prune: " << error.get<std::string>() << "\n";
      result = kFailed;
    }
  }
  if (in.format == "json") PrintJson(body);
  return result;
}

int Status(Invocation& in) {
  in.format = "text";
  while (!in.args.Done()) {
    if (!OutputOption(in, {"text", "json"})) Unexpected(in);
  }
  nlohmann::json s = Expect2xx(in.client.Get("/v1/status"));
  if (in.format == "json") {
    PrintJson(s);
    return kOk;
  }
  int64_t now = NowUnix();
  // A daemon before the datastore section had the etcd one only.
  const bool has_datastore = s.contains("datastore") && s["datastore"].is_object();
  const nlohmann::json& datastore = has_datastore ? s["datastore"] : s["etcd"];
  std::string state = "UNREACHABLE: " + TextOr(datastore, "error", "");
  if (datastore.value("reachable", false)) {
    std::vector<std::string> facts;
    if (!TextOr(datastore, "version", "").empty()) {
      facts.push_back("version " + TextOr(datastore, "version", ""));
    }
    if (NumberOr(datastore, "dbSize", 0) > 0) {
      facts.push_back("database " + FormatHumanBytes(NumberOr(datastore, "dbSize", 0)));
    }
    state = "reachable";
    for (size_t i = 0; i < facts.size(); ++i) state += (i == 0 ? " (" : ", ") + facts[i];
    if (!facts.empty()) state += ")";
  }
  const std::string kind = has_datastore ? TextOr(datastore, "kind", "etcd") : "etcd";
  const std::string where =
      has_datastore ? TextOr(datastore, "location", "") : TextOr(datastore, "endpoint", "");
  std::cout << "node:          " << TextOr(s, "node", "") << "\n";
  std::cout << (kind + ":").append(15 - std::min<size_t>(kind.size() + 1, 14), ' ') << where << " "
            << state << "\n";
  for (const nlohmann::json& store : s.value("storage", nlohmann::json::array())) {
    std::string state = store.value("ok", false)       ? "ok"
                        : store.value("checked", true) ? "ERROR: " + TextOr(store, "error", "")
                                                       : "not checked yet";
    std::cout << "storage:       " << TextOr(store, "storage", "") << " "
              << TextOr(store, "location", "") << " " << state << "\n";
  }
  const nlohmann::json& schedule = s["schedule"];
  if (schedule.value("enabled", false)) {
    std::string next = TextOr(schedule, "nextRun", "");
    std::cout << "schedule:      \"" << TextOr(schedule, "cron", "") << "\", next run "
              << (next.empty() ? "none" : TimeWithAge(next, now)) << "\n";
  } else {
    std::cout << "schedule:      disabled\n";
  }
  if (const nlohmann::json& upload = schedule.value("lastUpload", nlohmann::json());
      upload.is_object()) {
    // Several servers, one uploader per run: which one had the newest run.
    std::string state = TextOr(upload, "state", "");
    std::cout << "s3 upload:     run of " << TimeWithAge(TextOr(upload, "fireTime", ""), now) << " "
              << (state == "ready"    ? "uploaded by "
                  : state == "failed" ? "FAILED on "
                                      : "being uploaded by ")
              << TextOr(upload, "node", "?");
    if (!TextOr(upload, "snapshot", "").empty())
      std::cout << " (" << TextOr(upload, "snapshot", "") << ")";
    std::cout << "\n";
  }
  if (s["lastSuccess"].is_object()) {
    std::cout << "last success:  " << TimeWithAge(TextOr(s["lastSuccess"], "time", ""), now) << " "
              << TextOr(s["lastSuccess"], "snapshot", "") << "\n";
  } else {
    std::cout << "last success:  none since start\n";
  }
  if (s["lastFailure"].is_object()) {
    std::cout << "last failure:  " << TimeWithAge(TextOr(s["lastFailure"], "time", ""), now) << " "
              << TextOr(s["lastFailure"], "error", "") << "\n";
  } else {
    std::cout << "last failure:  none since start\n";
  }
  if (const nlohmann::json& increments = s.value("increments", nlohmann::json());
      increments.is_object()) {
    std::cout << "increments:    " << TextOr(increments, "state", "") << "\n";
    for (const nlohmann::json& store : increments.value("stores", nlohmann::json::array())) {
      std::ostringstream lag;
      lag.precision(1);
      lag << std::fixed << store.value("lagSeconds", 0.0);
      std::cout << "  " << TextOr(store, "storage", "") << ": " << TextOr(store, "base", "")
                << " from revision " << NumberOr(store, "firstRevision", 0) << " to "
                << NumberOr(store, "lastRevision", 0) << ", complete to "
                << TimeWithAge(TextOr(store, "completeTime", ""), now) << " (lag " << lag.str()
                << " s)";
      if (!TextOr(store, "error", "").empty())
        std::cout << " ERROR: " << TextOr(store, "error", "");
      std::cout << "\n";
    }
    if (!TextOr(increments, "lastError", "").empty()) {
      std::cout << "  last chain ended: " << TextOr(increments, "lastError", "") << "\n";
    }
  }
  if (s["job"].is_object()) {
    const nlohmann::json& job = s["job"];
    std::string label = TextOr(job, "kind", "job");
    if (!TextOr(job, "snapshot", "").empty()) label += " " + TextOr(job, "snapshot", "");
    ProgressBar progress(label);
    progress.Update(NumberOr(job, "bytes", 0), NumberOr(job, "total", 0),
                    std::chrono::steady_clock::now());
    std::string started = TextOr(job, "startedAt", "");
    std::cout << "running job:   " << progress.PlainLine()
              << (started.empty() ? "" : ", started " + TimeWithAge(started, now)) << "\n";
  } else {
    std::cout << "running job:   none\n";
  }
  return kOk;
}

int Cancel(Invocation& in) {
  in.format = "text";
  std::optional<std::string> id_text;
  while (!in.args.Done()) {
    if (!in.args.Peek().starts_with("-")) {
      if (id_text) Unexpected(in);
      id_text = in.args.Next();
    } else if (!OutputOption(in, {"text", "json"})) {
      Unexpected(in);
    }
  }
  if (id_text &&
      (id_text->empty() || id_text->find_first_not_of("0123456789") != std::string::npos)) {
    throw UsageError(in.command, "job id \"" + *id_text + "\" is not a number");
  }
  if (!id_text) {
    nlohmann::json status = Expect2xx(in.client.Get("/v1/status"));
    if (!status["job"].is_object()) {
      std::cerr << "snapctl: cancel: no job is running\n";
      return kFailed;
    }
    id_text = std::to_string(status["job"]["id"].get<uint64_t>());
  }
  nlohmann::json job = Expect2xx(in.client.Delete("/v1/jobs/" + *id_text))["job"];
  std::string label = TextOr(job, "kind", "job") + " job " + *id_text;
  if (!TextOr(job, "snapshot", "").empty()) label += " (" + TextOr(job, "snapshot", "") + ")";
  std::optional<nlohmann::json> ended =
      WaitForJob(in.client, job, "cancelling " + label, ProgressMode::kNone);
  if (!ended) {
    std::cerr << "snapctl: stopped waiting; " << label << " has been asked to stop\n";
    return kInterrupted;
  }
  if (in.format == "json") PrintJson(*ended);
  const std::string error = TextOr(*ended, "error", "");
  if (!error.starts_with("cancelled")) {
    std::cerr << "snapctl: cancel: " << label
              << " ended before the cancel reached it: " << TextOr(*ended, "state", "?")
              << (error.empty() ? "" : ": " + error) << "\n";
    return kFailed;
  }
  if (in.format == "text") std::cout << "cancelled " << label << "\n";
  return kOk;
}

struct Command {
  std::vector<std::string_view> names;  // the name, then aliases
  const char* help;
  int (*run)(Invocation&);
};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {{"save"}, kSaveHelp, Save},
      {{"ls", "list", "l"}, kListHelp, List},
      {{"delete", "rm"}, kDeleteHelp, Delete},
      {{"prune"}, kPruneHelp, Prune},
      {{"status"}, kStatusHelp, Status},
      {{"verify"}, kVerifyHelp, VerifyCommand},
      {{"restore"}, kRestoreHelp, RestoreCommand},
      {{"inspect"}, kInspectHelp, InspectCommand},
      {{"get"}, kGetHelp, GetCommand},
      {{"diff"}, kDiffHelp, DiffCommand},
      {{"undelete"}, kUndeleteHelp, UndeleteCommand},
      {{"cancel"}, kCancelHelp, Cancel},
      {{"help"}, kHelpHelp, nullptr},
  };
  return commands;
}

const Command* FindCommand(std::string_view word) {
  for (const Command& c : Commands()) {
    for (std::string_view name : c.names) {
      if (name == word) return &c;
    }
  }
  return nullptr;
}

bool WantsHelp(const Args& args) {
  for (size_t i = args.pos; i < args.items.size(); ++i) {
    if (args.items[i] == "--") return false;
    if (args.items[i] == "-h" || args.items[i] == "--help") return true;
  }
  return false;
}

int Run(std::vector<std::string> argv) {
  Args args{std::move(argv), 0};
  std::string socket = std::getenv("K3S_SNAPD_SOCKET") ? std::getenv("K3S_SNAPD_SOCKET") : "";
  if (socket.empty()) socket = kDefaultSocket;
  while (!args.Done() && args.Peek().starts_with("-")) {
    if (args.Peek() == "-h" || args.Peek() == "--help") {
      std::cout << kHelp;
      return kOk;
    }
    if (args.Peek() == "--version") {
      std::cout << "snapctl " << K3S_SNAPD_VERSION << "\n";
      return kOk;
    }
    if (auto v = args.Option({"--socket"}, "")) {
      socket = *v;
      continue;
    }
    throw UsageError("", "unknown option \"" + args.Peek() + "\"");
  }
  if (args.Done()) throw UsageError("", "no command given");
  std::string word = args.Next();
  const Command* command = FindCommand(word);
  if (!command) throw UsageError("", "unknown command \"" + word + "\"");
  if (WantsHelp(args)) {
    std::cout << command->help;
    return kOk;
  }
  if (!command->run) {  // help [COMMAND]
    if (args.Done()) {
      std::cout << kHelp;
      return kOk;
    }
    std::string topic = args.Next();
    const Command* about = FindCommand(topic);
    if (!about) throw UsageError("help", "unknown command \"" + topic + "\"");
    if (!args.Done()) throw UsageError("help", "unexpected argument \"" + args.Peek() + "\"");
    std::cout << about->help;
    return kOk;
  }
  // --socket may also follow the command, as kubectl takes its global flags anywhere.
  for (size_t i = args.pos; i < args.items.size() && args.items[i] != "--";) {
    Args rest{args.items, i};
    if (auto v = rest.Option({"--socket"}, std::string(command->names.front()))) {
      socket = *v;
      args.items.erase(args.items.begin() + i, args.items.begin() + rest.pos);
    } else {
      ++i;
    }
  }
  // A save waits as long as the snapshot takes, polling; each request on its own is quick.
  ControlClient client(socket, std::chrono::seconds(60));
  Invocation in{std::string(command->names.front()), args, client, ""};
  return command->run(in);
}

}  // namespace
}  // namespace snapd

int main(int argc, char** argv) {
  try {
    return snapd::Run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const snapd::UsageError& e) {
    std::string help = e.command.empty() ? "snapctl --help" : "snapctl " + e.command + " --help";
    std::cerr << "snapctl" << (e.command.empty() ? "" : " " + e.command) << ": " << e.what()
              << "\nRun '" << help << "' for usage.\n";
    return snapd::kUsage;
  } catch (const std::exception& e) {
    std::cerr << "snapctl: " << e.what() << "\n";
    return snapd::kFailed;
  }
}
