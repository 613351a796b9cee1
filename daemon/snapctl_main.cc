// snapctl: the command-line client of k3s-snapd's control socket. Exit codes: 0 success,
// 1 the operation failed (or the daemon could not be reached), 2 usage errors.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/control_client.h"
#include "core/error.h"
#include "core/time_format.h"
#include "snapshot/snapshot_name.h"
#include "snapshot/snapshot_record.h"

namespace snapd {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr const char* kDefaultSocket = "/run/k3s-snapd/snapd.sock";

constexpr const char* kHelp = R"(Usage: snapctl [--socket PATH] COMMAND [OPTIONS]

Commands:
  save [--name PREFIX] [-o name|json]   take a snapshot now and wait until it is stored
  ls | list | l [-o table|json]          list snapshots in every store
  delete NAME...                         delete snapshots (from every store holding them)
  prune [--name PREFIX] [--snapshot-retention N]
                                         keep the newest N snapshots of PREFIX (default on-demand)
  status [-o text|json]                  etcd, schedule, last success and failure, running job

Global options:
  --socket PATH   control socket (default $K3S_SNAPD_SOCKET or /run/k3s-snapd/snapd.sock)
  -h, --help      show help (also after a command)

Exit status: 0 success, 1 the operation failed, 2 usage error.
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::vector<std::string> items;
  size_t pos = 0;
  bool Done() const { return pos >= items.size(); }
  const std::string& Peek() const { return items[pos]; }
  std::string Next() { return items[pos++]; }
  // Reads the value of option `name` given as "--name=v" or "--name v"; nullopt if not it.
  std::optional<std::string> Option(std::initializer_list<std::string_view> names) {
    const std::string& a = items[pos];
    for (std::string_view name : names) {
      if (a == name) {
        if (pos + 1 >= items.size()) throw UsageError(std::string(name) + " needs a value");
        pos += 2;
        return items[pos - 1];
      }
      std::string prefix = std::string(name) + "=";
      if (a.starts_with(prefix)) {
        ++pos;
        return a.substr(prefix.size());
      }
    }
    return std::nullopt;
  }
};

nlohmann::json ParseBody(const ApiResponse& response) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_discarded()) {
    throw Error::Permanent("daemon answered HTTP " + std::to_string(response.status) +
                           " with a body that is not JSON");
  }
  return body;
}

// Returns the JSON body of a 2xx answer; otherwise throws with the daemon's error message.
nlohmann::json Expect2xx(const ApiResponse& response) {
  nlohmann::json body = ParseBody(response);
  if (response.status >= 200 && response.status < 300) return body;
  std::string message = body.is_object() && body.contains("error") && body["error"].is_string()
                            ? body["error"].get<std::string>()
                            : "HTTP " + std::to_string(response.status);
  throw Error::Permanent(message);
}

std::string FormatBytes(uint64_t size) {
  return std::to_string(size);
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    std::cout << line << "\n";
  }
}

std::string OutputFormat(Args& args, std::initializer_list<std::string_view> allowed,
                         std::string format) {
  if (auto value = args.Option({"-o", "--output"})) {
    for (std::string_view a : allowed) {
      if (*value == a) return *value;
    }
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    throw UsageError("-o " + *value + ": output format must be one of " + list);
  }
  return format;
}

bool WantsHelp(const Args& args) {
  for (size_t i = args.pos; i < args.items.size(); ++i) {
    if (args.items[i] == "-h" || args.items[i] == "--help") return true;
  }
  return false;
}

int Save(ControlClient& client, Args& args) {
  std::optional<std::string> prefix;
  std::string format = "name";
  while (!args.Done()) {
    if (auto v = args.Option({"--name"})) {
      prefix = *v;
    } else if (args.Peek() == "-o" || args.Peek().starts_with("-o=") ||
               args.Peek().starts_with("--output")) {
      format = OutputFormat(args, {"name", "json"}, format);
    } else {
      throw UsageError("save: unexpected argument \"" + args.Peek() + "\"");
    }
  }
  if (prefix) {
    try {
      ValidateNamePrefix(*prefix, "--name");
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
  }
  nlohmann::json request = nlohmann::json::object();
  if (prefix) request["name"] = *prefix;
  nlohmann::json started = Expect2xx(client.Post("/v1/snapshots", request.dump()));
  uint64_t id = started["job"]["id"].get<uint64_t>();
  nlohmann::json job = started["job"];
  while (job["state"] == "running") {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    job = Expect2xx(client.Get("/v1/jobs/" + std::to_string(id)));
  }
  if (format == "json") std::cout << job.dump(2) << "\n";
  if (job["state"] != "succeeded") {
    std::cerr << "snapctl: save failed: " << job.value("error", "unknown error") << "\n";
    return kFailed;
  }
  if (format == "name") std::cout << job["snapshot"].get<std::string>() << "\n";
  return kOk;
}

int List(ControlClient& client, Args& args) {
  std::string format = "table";
  while (!args.Done()) {
    if (args.Peek() == "-o" || args.Peek().starts_with("-o=") ||
        args.Peek().starts_with("--output")) {
      format = OutputFormat(args, {"table", "json"}, format);
    } else {
      throw UsageError("ls: unexpected argument \"" + args.Peek() + "\"");
    }
  }
  nlohmann::json answer = Expect2xx(client.Get("/v1/snapshots"));
  const nlohmann::json& list = answer["snapshots"];
  // A store that could not be listed fails the command, but what the others hold is shown.
  int result = kOk;
  for (const nlohmann::json& e : answer["errors"]) {
    std::cerr << "snapctl: ls: " << e["storage"].get<std::string>()
              << " could not be listed: " << e["error"].get<std::string>() << "\n";
    result = kFailed;
  }
  if (format == "json") {
    std::cout << list.dump(2) << "\n";
    return result;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "NODE", "STORAGE", "LOCATION", "SIZE", "CREATIONTIME", "STATUS"}};
  for (const nlohmann::json& item : list) {
    SnapshotRecord r = RecordFromApiJson(item);
    rows.push_back({r.name, r.node, r.storage, r.location, FormatBytes(r.size),
                    FormatRfc3339(r.created_at), r.status});
  }
  PrintTable(rows);
  return result;
}

int Delete(ControlClient& client, Args& args) {
  std::vector<std::string> names;
  while (!args.Done()) names.push_back(args.Next());
  if (names.empty()) throw UsageError("delete: name at least one snapshot");
  for (const std::string& name : names) {
    try {
      ValidateSnapshotName(name);
    } catch (const Error& e) {
      throw UsageError(std::string("delete: ") + e.what());
    }
  }
  int result = kOk;
  for (const std::string& name : names) {
    std::string target = "/v1/snapshots/";
    for (unsigned char c : name) {
      bool plain = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      target += plain ? std::string(1, static_cast<char>(c)) : std::string(buf);
    }
    try {
      nlohmann::json body = Expect2xx(client.Delete(target));
      std::string from;
      for (const nlohmann::json& s : body["deletedFrom"]) {
        from += (from.empty() ? "" : ", ") + s.get<std::string>();
      }
      std::cout << "deleted " << name << " (" << from << ")\n";
    } catch (const Error& e) {
      std::cerr << "snapctl: delete " << name << ": " << e.what() << "\n";
      result = kFailed;
    }
  }
  return result;
}

int Prune(ControlClient& client, Args& args) {
  nlohmann::json request = nlohmann::json::object();
  while (!args.Done()) {
    if (auto v = args.Option({"--name"})) {
      try {
        ValidateNamePrefix(*v, "--name");
      } catch (const Error& e) {
        throw UsageError(e.what());
      }
      request["name"] = *v;
    } else if (auto r = args.Option({"--snapshot-retention", "--etcd-snapshot-retention"})) {
      try {
        size_t used = 0;
        int n = std::stoi(*r, &used);
        if (used != r->size()) throw std::invalid_argument("trailing");
        request["retention"] = n;
      } catch (const std::exception&) {
        throw UsageError("--snapshot-retention " + *r + ": not an integer");
      }
    } else {
      throw UsageError("prune: unexpected argument \"" + args.Peek() + "\"");
    }
  }
  nlohmann::json body = Expect2xx(client.Post("/v1/prune", request.dump()));
  int result = kOk;
  for (const nlohmann::json& store : body["stores"]) {
    for (const nlohmann::json& name : store["removed"]) {
      std::cout << "pruned " << name.get<std::string>() << " ("
                << store["storage"].get<std::string>() << ")\n";
    }
    for (const nlohmann::json& error : store["errors"]) {
      std::cerr << "snapctl: prune: " << error.get<std::string>() << "\n";
      result = kFailed;
    }
  }
  return result;
}

std::string TextOr(const nlohmann::json& j, const char* key, const std::string& fallback) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}

int Status(ControlClient& client, Args& args) {
  std::string format = "text";
  while (!args.Done()) {
    if (args.Peek() == "-o" || args.Peek().starts_with("-o=") ||
        args.Peek().starts_with("--output")) {
      format = OutputFormat(args, {"text", "json"}, format);
    } else {
      throw UsageError("status: unexpected argument \"" + args.Peek() + "\"");
    }
  }
  nlohmann::json s = Expect2xx(client.Get("/v1/status"));
  if (format == "json") {
    std::cout << s.dump(2) << "\n";
    return kOk;
  }
  const nlohmann::json& etcd = s["etcd"];
  std::cout << "node:          " << TextOr(s, "node", "") << "\n";
  std::cout << "etcd:          " << TextOr(etcd, "endpoint", "") << " "
            << (etcd.value("reachable", false)
                    ? "reachable (version " + TextOr(etcd, "version", "?") + ")"
                    : "UNREACHABLE: " + TextOr(etcd, "error", ""))
            << "\n";
  for (const nlohmann::json& store : s.value("storage", nlohmann::json::array())) {
    std::string state = store.value("ok", false)       ? "ok"
                        : store.value("checked", true) ? "ERROR: " + TextOr(store, "error", "")
                                                       : "not checked yet";
    std::cout << "storage:       " << TextOr(store, "storage", "") << " "
              << TextOr(store, "location", "") << " " << state << "\n";
  }
  const nlohmann::json& schedule = s["schedule"];
  if (schedule.value("enabled", false)) {
    std::cout << "schedule:      \"" << TextOr(schedule, "cron", "") << "\", next run "
              << TextOr(schedule, "nextRun", "none") << "\n";
  } else {
    std::cout << "schedule:      disabled\n";
  }
  if (s["lastSuccess"].is_object()) {
    std::cout << "last success:  " << TextOr(s["lastSuccess"], "time", "") << " "
              << TextOr(s["lastSuccess"], "snapshot", "") << "\n";
  } else {
    std::cout << "last success:  none since start\n";
  }
  if (s["lastFailure"].is_object()) {
    std::cout << "last failure:  " << TextOr(s["lastFailure"], "time", "") << " "
              << TextOr(s["lastFailure"], "error", "") << "\n";
  } else {
    std::cout << "last failure:  none since start\n";
  }
  if (s["job"].is_object()) {
    std::cout << "running job:   " << TextOr(s["job"], "kind", "") << " "
              << TextOr(s["job"], "snapshot", "") << " (" << s["job"].value("bytes", 0)
              << " bytes so far)\n";
  } else {
    std::cout << "running job:   none\n";
  }
  return kOk;
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
    if (auto v = args.Option({"--socket"})) {
      socket = *v;
      continue;
    }
    throw UsageError("unknown option \"" + args.Peek() + "\"");
  }
  if (args.Done()) throw UsageError("no command given");
  std::string command = args.Next();
  if (command == "help" || WantsHelp(args)) {
    std::cout << kHelp;
    return kOk;
  }
  // A save waits as long as the snapshot takes; each request on its own is quick.
  ControlClient client(socket, std::chrono::seconds(60));
  if (command == "save") return Save(client, args);
  if (command == "ls" || command == "list" || command == "l") return List(client, args);
  if (command == "delete" || command == "rm") return Delete(client, args);
  if (command == "prune") return Prune(client, args);
  if (command == "status") return Status(client, args);
  throw UsageError("unknown command \"" + command + "\"");
}

}  // namespace
}  // namespace snapd

int main(int argc, char** argv) {
  try {
    return snapd::Run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const snapd::UsageError& e) {
    std::cerr << "snapctl: " << e.what() << "\nRun 'snapctl --help' for usage.\n";
    return snapd::kUsage;
  } catch (const std::exception& e) {
    std::cerr << "snapctl: " << e.what() << "\n";
    return snapd::kFailed;
  }
}
