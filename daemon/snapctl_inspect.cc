// snapctl inspect, get, diff and undelete: what a snapshot holds, one key's value as it was, what
// changed between two snapshots, and a deleted key put back. The daemon reads the snapshot (it
// holds the stores and the keys); snapctl shows the answer.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>

#include "core/encoding.h"
#include "snapctl_cli.h"
#include "snapshot/snapshot_name.h"

namespace snapd {

const char* const kInspectHelp =
    R"(Usage: snapctl inspect NAME [--storage local|s3] [--namespaces] [-o text|json]

Shows what snapshot NAME holds, read by k3s-snapd itself (no etcd, no Go tools): its revision
and compact revision, the number of live keys and of stored revisions, etcd's HashKV of it at
its revision (what `etcdctl endpoint hashkv --rev R` of the cluster said then), and live keys
and value bytes per Kubernetes resource (/registry/<resource>/). A plain local copy is read in
place; S3, compressed and encrypted copies are fetched and decoded into the daemon's state
directory first, and verified on the way.

Options:
  --storage local|s3  read this store's copy (default: local when there, else S3)
  --namespaces        break resources down per namespace
  -o, --output FMT    text (default) or json
  -h, --help          show this help
)";

const char* const kGetHelp =
    R"(Usage: snapctl get NAME KEY [--prefix] [--storage local|s3] [-o json|raw]

Prints key KEY (with --prefix: every key starting with KEY) as it was in snapshot NAME.
json (default): [{key, value (base64), createRevision, modRevision, version, lease,
encoding, apiVersion, kind}] plus, for objects the apiserver stored as JSON (custom
resources), the object itself. raw: the one value's bytes, unchanged (e.g. to pipe into
`auger decode` or a file). Values can be Secrets: only root may ask.

Options:
  --prefix            KEY is a prefix
  --storage local|s3  read this store's copy (default: local when there, else S3)
  -o, --output FMT    json (default) or raw
  -h, --help          show this help
)";

const char* const kDiffHelp =
    R"(Usage: snapctl diff FROM TO [--prefix P] [--storage local|s3] [-o text|json]

Shows the keys added, removed and changed from snapshot FROM to snapshot TO (a change is a new
value, lease or creation), summed per resource, then key by key.

Options:
  --prefix P          only keys starting with P (e.g. /registry/secrets/)
  --storage local|s3  read this store's copies (default: local when there, else S3)
  -o, --output FMT    text (default) or json
  -h, --help          show this help
)";

const char* const kUndeleteHelp =
    R"(Usage: snapctl undelete NAME KEY [--prefix] [--storage local|s3] [--yes] [-o text|json]

Puts the value KEY (with --prefix: every key under it) had in snapshot NAME back into the live
etcd, only where the key does not exist now: one etcd transaction per key that creates it
only if absent, so newer state is never overwritten. This is how a deleted Kubernetes object
(a Secret, a ConfigMap, a custom resource) comes back without a cluster reset; the apiserver
reads it as it was. Keys bound to a lease in the snapshot are skipped. Each key is logged to
the journal. Only root may undelete; at a terminal it asks first.

Options:
  --prefix            KEY is a prefix
  --storage local|s3  read this store's copy (default: local when there, else S3)
  --yes               do not ask (required when stdin is not a terminal)
  -o, --output FMT    text (default): recreated and skipped keys; json: the same
  -h, --help          show this help
)";

namespace {

struct SnapshotQuery {
  std::vector<std::string> names;
  std::string storage;
  bool prefix = false;
  bool namespaces = false;
  bool yes = false;
  std::string prefix_value;  // diff's --prefix P
};

// What a command accepts besides -o and --storage.
struct QueryOptions {
  size_t positional = 1;      // words: NAME, NAME KEY, FROM TO
  bool prefix_flag = false;   // --prefix (KEY is a prefix)
  bool prefix_value = false;  // --prefix P (diff)
  bool namespaces = false;
  bool yes = false;
};

// Reads the command's arguments; words after "--" are never options (a key may start with "-").
SnapshotQuery ParseQuery(Invocation& in, const QueryOptions& takes,
                         std::initializer_list<std::string_view> formats) {
  SnapshotQuery q;
  in.format = std::string(*formats.begin());
  std::vector<std::string> words;
  while (!in.args.Done()) {
    const std::string& a = in.args.Peek();
    if (a == "--") {
      in.args.Next();
      while (!in.args.Done()) words.push_back(in.args.Next());
    } else if (takes.prefix_flag && a == "--prefix") {
      q.prefix = true;
      in.args.Next();
    } else if (takes.namespaces && a == "--namespaces") {
      q.namespaces = true;
      in.args.Next();
    } else if (takes.yes && a == "--yes") {
      q.yes = true;
      in.args.Next();
    } else if (auto v =
                   takes.prefix_value ? in.args.Option({"--prefix"}, in.command) : std::nullopt) {
      q.prefix_value = *v;
    } else if (auto s = in.args.Option({"--storage"}, in.command)) {
      if (*s != "local" && *s != "s3")
        throw UsageError(in.command, "--storage must be local or s3");
      q.storage = *s;
    } else if (OutputOption(in, formats)) {
    } else if (a.size() > 1 && a.starts_with("-")) {
      Unexpected(in);
    } else {
      words.push_back(in.args.Next());
    }
  }
  if (words.size() != takes.positional) {
    throw UsageError(in.command, "expected " + std::to_string(takes.positional) +
                                     " arguments, got " + std::to_string(words.size()));
  }
  q.names = std::move(words);
  return q;
}

void CheckName(const Invocation& in, const std::string& name) {
  try {
    ValidateSnapshotName(name);
  } catch (const Error& e) {
    throw UsageError(in.command, e.what());
  }
}

// Starts the job at `path` and waits for it; returns its result, or throws with its error.
nlohmann::json RunJob(Invocation& in, const std::string& path, const nlohmann::json& request,
                      const std::string& label) {
  nlohmann::json started = Expect2xx(in.client.Post(path, request.dump()));
  // Reading a plain local copy takes a moment: a bar only helps for a fetch from S3.
  std::optional<nlohmann::json> job =
      WaitForJob(in.client, started["job"], label, ChooseProgressMode(true));
  if (!job) {
    std::cerr << "snapctl: stopped waiting; the " << in.command << " goes on in k3s-snapd\n";
    throw Error::Cancelled("interrupted");
  }
  if ((*job)["state"] != "succeeded") {
    if (job->contains("result") && (*job)["result"].is_object()) return (*job)["result"];
    throw Error::Permanent(TextOr(*job, "error", "the job failed"));
  }
  return job->value("result", nlohmann::json::object());
}

std::string Number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  return it->dump();
}

void PrintInspect(const nlohmann::json& r) {
  const nlohmann::json& source = r["snapshot"];
  std::cout << "snapshot:          " << TextOr(source, "name", "") << " ("
            << TextOr(source, "storage", "") << ", " << TextOr(source, "datastore", "") << ")\n";
  std::cout << "revision:          " << Number(r, "revision") << "\n";
  std::cout << "compact revision:  " << Number(r, "compactRevision") << "\n";
  std::cout << "keys:              " << Number(r, "keys") << " ("
            << FormatHumanBytes(NumberOr(r, "bytes", 0)) << " of values)\n";
  std::cout << "stored revisions:  " << Number(r, "storedRevisions") << "\n";
  if (r.contains("hashKV") && r["hashKV"].is_object()) {
    std::cout << "hashKV:            " << Number(r["hashKV"], "hash") << " at revision "
              << Number(r["hashKV"], "revision") << "\n";
  }
  std::vector<nlohmann::json> prefixes(r["prefixes"].begin(), r["prefixes"].end());
  std::stable_sort(prefixes.begin(), prefixes.end(), [](const auto& a, const auto& b) {
    return NumberOr(a, "bytes", 0) > NumberOr(b, "bytes", 0);
  });
  std::vector<std::vector<std::string>> rows = {{"PREFIX", "KEYS", "BYTES"}};
  for (const nlohmann::json& p : prefixes) {
    rows.push_back(
        {TextOr(p, "prefix", ""), Number(p, "keys"), FormatHumanBytes(NumberOr(p, "bytes", 0))});
  }
  std::cout << "\n";
  PrintTable(rows);
}

void PrintDiff(const nlohmann::json& r) {
  std::cout << TextOr(r["from"], "name", "") << " (revision " << Number(r, "fromRevision")
            << ") -> " << TextOr(r["to"], "name", "") << " (revision " << Number(r, "toRevision")
            << "): " << Number(r, "added") << " added, " << Number(r, "removed") << " removed, "
            << Number(r, "changed") << " changed, " << Number(r, "unchanged") << " unchanged\n";
  if (r["prefixes"].empty()) return;
  std::vector<std::vector<std::string>> rows = {{"PREFIX", "ADDED", "REMOVED", "CHANGED"}};
  for (const nlohmann::json& p : r["prefixes"]) {
    rows.push_back(
        {TextOr(p, "prefix", ""), Number(p, "added"), Number(p, "removed"), Number(p, "changed")});
  }
  std::cout << "\n";
  PrintTable(rows);
  std::cout << "\n";
  for (const nlohmann::json& c : r["changes"]) {
    const std::string change = TextOr(c, "change", "");
    const char mark = change == "added" ? '+' : change == "removed" ? '-' : '~';
    std::cout << mark << " " << TextOr(c, "key", "") << "\n";
  }
}

}  // namespace

int InspectCommand(Invocation& in) {
  SnapshotQuery q = ParseQuery(in, {.positional = 1, .namespaces = true}, {"text", "json"});
  CheckName(in, q.names[0]);
  nlohmann::json request = {{"name", q.names[0]}, {"namespaces", q.namespaces}};
  if (!q.storage.empty()) request["storage"] = q.storage;
  nlohmann::json result = RunJob(in, "/v1/inspect", request, "reading " + q.names[0]);
  if (in.format == "json") {
    PrintJson(result);
  } else {
    PrintInspect(result);
  }
  return kOk;
}

int GetCommand(Invocation& in) {
  SnapshotQuery q = ParseQuery(in, {.positional = 2, .prefix_flag = true}, {"json", "raw"});
  CheckName(in, q.names[0]);
  if (q.names[1].empty()) throw UsageError(in.command, "KEY must not be empty");
  nlohmann::json request = {{"name", q.names[0]}, {"key", q.names[1]}, {"prefix", q.prefix}};
  if (!q.storage.empty()) request["storage"] = q.storage;
  nlohmann::json result = RunJob(in, "/v1/get", request, "reading " + q.names[0]);
  const nlohmann::json& kvs = result["kvs"];
  if (in.format == "json") {
    PrintJson(kvs);
    return kOk;
  }
  if (kvs.size() != 1) {
    throw Error::InvalidInput("-o raw writes one value, and " + std::to_string(kvs.size()) +
                              " keys matched; use -o json");
  }
  std::string value;
  Base64DecodeAppend(kvs[0]["value"].get<std::string>(), value);
  std::cout.write(value.data(), static_cast<std::streamsize>(value.size()));
  std::cout.flush();
  return kOk;
}

int DiffCommand(Invocation& in) {
  SnapshotQuery q = ParseQuery(in, {.positional = 2, .prefix_value = true}, {"text", "json"});
  CheckName(in, q.names[0]);
  CheckName(in, q.names[1]);
  nlohmann::json request = {{"from", q.names[0]}, {"to", q.names[1]}, {"prefix", q.prefix_value}};
  if (!q.storage.empty()) request["storage"] = q.storage;
  nlohmann::json result = RunJob(in, "/v1/diff", request, "comparing");
  if (in.format == "json") {
    PrintJson(result);
  } else {
    PrintDiff(result);
  }
  return kOk;
}

int UndeleteCommand(Invocation& in) {
  SnapshotQuery q =
      ParseQuery(in, {.positional = 2, .prefix_flag = true, .yes = true}, {"text", "json"});
  CheckName(in, q.names[0]);
  if (q.names[1].empty()) throw UsageError(in.command, "KEY must not be empty");
  if (!q.yes) {
    if (!isatty(STDIN_FILENO)) {
      throw UsageError(in.command, "undelete writes to the live etcd; confirm with --yes");
    }
    std::cerr << "Put " << (q.prefix ? "the keys under " : "the key ") << q.names[1]
              << " back into etcd as snapshot " << q.names[0]
              << " has them, where they are absent now? [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || (answer != "y" && answer != "Y" && answer != "yes")) {
      std::cerr << "snapctl: undelete not confirmed; nothing was changed\n";
      return kFailed;
    }
  }
  nlohmann::json request = {{"name", q.names[0]}, {"key", q.names[1]}, {"prefix", q.prefix}};
  if (!q.storage.empty()) request["storage"] = q.storage;
  nlohmann::json result = RunJob(in, "/v1/undelete", request, "reading " + q.names[0]);
  if (in.format == "json") {
    PrintJson(result);
  } else {
    for (const nlohmann::json& k : result.value("recreated", nlohmann::json::array())) {
      std::cout << "recreated " << TextOr(k, "key", "") << " (revision " << Number(k, "revision")
                << ")\n";
    }
    for (const nlohmann::json& k : result.value("skipped", nlohmann::json::array())) {
      std::cout << "skipped   " << TextOr(k, "key", "") << ": " << TextOr(k, "reason", "") << "\n";
    }
  }
  if (result.contains("error")) {
    std::cerr << "snapctl: undelete: " << TextOr(result, "error", "") << "\n";
    return kFailed;
  }
  return kOk;
}

}  // namespace snapd
