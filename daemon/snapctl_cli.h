// snapctl's command-line plumbing shared by its command files: arguments, options, output
// helpers and the progress display of a running job.
#pragma once

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/control_client.h"
#include "control/human_format.h"
#include "control/progress_bar.h"
#include "core/error.h"
#include "core/time_format.h"

namespace snapd {

inline constexpr int kOk = 0;
inline constexpr int kFailed = 1;
inline constexpr int kUsage = 2;
inline constexpr int kInterrupted = 130;
// How often a waiting command asks for its job: the end of a save is seen at most this late,
// which a one-second save would otherwise pay for (a poll is a few microseconds of daemon CPU).
inline constexpr auto kPollInterval = std::chrono::milliseconds(50);
inline constexpr auto kPlainLineInterval = std::chrono::seconds(2);

// A usage error of `command` (empty: of snapctl itself); main points at the right help.
struct UsageError : std::runtime_error {
  UsageError(std::string command, const std::string& message)
      : std::runtime_error(message), command(std::move(command)) {}
  std::string command;
};

struct Args {
  std::vector<std::string> items;
  size_t pos = 0;
  bool Done() const { return pos >= items.size(); }
  const std::string& Peek() const { return items[pos]; }
  std::string Next() { return items[pos++]; }
  // Reads the value of option `name` given as "--name=v", "--name v" or, for a one-letter
  // option, "-ov"; nullopt if the next argument is not that option.
  std::optional<std::string> Option(std::initializer_list<std::string_view> names,
                                    const std::string& command) {
    const std::string& a = items[pos];
    for (std::string_view name : names) {
      if (a == name) {
        if (pos + 1 >= items.size())
          throw UsageError(command, std::string(name) + " needs a value");
        pos += 2;
        return items[pos - 1];
      }
      std::string prefix = std::string(name) + (name.size() == 2 ? "" : "=");
      if (a.starts_with(prefix)) {
        ++pos;
        std::string value = a.substr(prefix.size());
        if (name.size() == 2 && value.starts_with("=")) value.erase(0, 1);  // "-o=json"
        return value;
      }
    }
    return std::nullopt;
  }
};

// What every command is given: the client, its arguments after the command word, and the
// output format chosen with -o (checked against the command's list).
struct Invocation {
  std::string command;
  Args& args;
  ControlClient& client;
  std::string format;
};

// Handles -o/--output for `allowed` (first is the default); false when the next argument is
// something else.
inline bool OutputOption(Invocation& in, std::initializer_list<std::string_view> allowed) {
  std::optional<std::string> value = in.args.Option({"-o", "--output"}, in.command);
  if (!value) return false;
  for (std::string_view a : allowed) {
    if (*value == a) {
      in.format = *value;
      return true;
    }
  }
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  throw UsageError(in.command, "-o " + *value + ": output format must be one of " + list);
}

[[noreturn]] inline void Unexpected(const Invocation& in) {
  const std::string& a = in.args.Peek();
  if (a.size() > 1 && a.starts_with("-"))
    throw UsageError(in.command, "unknown option \"" + a + "\"");
  throw UsageError(in.command, "unexpected argument \"" + a + "\"");
}

inline nlohmann::json ParseBody(const ApiResponse& response) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_discarded()) {
    throw Error::Permanent("daemon answered HTTP " + std::to_string(response.status) +
                           " with a body that is not JSON");
  }
  return body;
}

// Returns the JSON body of a 2xx answer; otherwise throws with the daemon's error message.
inline nlohmann::json Expect2xx(const ApiResponse& response) {
  nlohmann::json body = ParseBody(response);
  if (response.status >= 200 && response.status < 300) return body;
  std::string message = body.is_object() && body.contains("error") && body["error"].is_string()
                            ? body["error"].get<std::string>()
                            : "HTTP " + std::to_string(response.status);
  throw Error::Permanent(message);
}

inline void PrintJson(const nlohmann::json& j) {
  std::cout << j.dump(2) << "\n";
}

inline int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string TextOr(const nlohmann::json& j, const char* key, const std::string& fallback) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                : fallback;
}

inline uint64_t NumberOr(const nlohmann::json& j, const char* key, uint64_t fallback) {
  return j.is_object() && j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>()
                                                                         : fallback;
}

// "2026-11-22T01:02:03Z (5m ago)", or the text as is when it is not an RFC 3339 time.
inline std::string TimeWithAge(const std::string& rfc3339, int64_t now) {
  std::optional<int64_t> t = ParseRfc3339(rfc3339);
  if (!t) return rfc3339;
  if (*t > now + 60) return rfc3339 + " (in " + FormatShortDuration(*t - now) + ")";
  return rfc3339 + " (" + FormatAge(*t, now) + ")";
}

inline void PrintTable(const std::vector<std::vector<std::string>>& rows) {
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

// --- job progress -------------------------------------------------------------------------

inline std::atomic<bool> interrupted{false};

inline void OnInterrupt(int) {
  interrupted = true;
}

enum class ProgressMode { kBar, kLines, kNone };

// A bar where a person watches stderr; plain lines for logs, unless stderr is stdout (2>&1)
// where they would mix with the name a script reads.
inline ProgressMode ChooseProgressMode(bool wanted) {
  if (!wanted) return ProgressMode::kNone;
  if (isatty(STDERR_FILENO)) return ProgressMode::kBar;
  struct stat out {};
  struct stat err {};
  if (fstat(STDOUT_FILENO, &out) == 0 && fstat(STDERR_FILENO, &err) == 0 &&
      out.st_dev == err.st_dev && out.st_ino == err.st_ino) {
    return ProgressMode::kNone;
  }
  return ProgressMode::kLines;
}

inline size_t TerminalWidth() {
  struct winsize size {};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) {
    return size.ws_col - 1;  // the last column would make some terminals wrap
  }
  return 79;
}

// Shows a ProgressBar on stderr in the chosen mode while a job is polled.
class ProgressDisplay {
 public:
  explicit ProgressDisplay(ProgressMode mode)
      : mode_(mode), bar_("saving"), next_plain_(Clock::now() + kPlainLineInterval) {}

  void Show(const std::string& label, uint64_t done, uint64_t total) {
    if (mode_ == ProgressMode::kNone) return;
    auto now = Clock::now();
    bar_.set_label(label);
    bar_.Update(done, total, now);
    if (mode_ == ProgressMode::kBar) {
      std::cerr << "\r" << bar_.Line(TerminalWidth()) << std::flush;
      drawn_ = true;
    } else if (now >= next_plain_) {
      std::cerr << bar_.PlainLine() << std::endl;
      next_plain_ = now + kPlainLineInterval;
    }
  }

  // Removes the bar so what follows starts on a clean line.
  void Clear() {
    if (!drawn_) return;
    std::cerr << "\r" << std::string(TerminalWidth(), ' ') << "\r" << std::flush;
    drawn_ = false;
  }

 private:
  using Clock = std::chrono::steady_clock;
  ProgressMode mode_;
  ProgressBar bar_;
  Clock::time_point next_plain_;
  bool drawn_ = false;
};

// Polls job `job` (as POST answered it) until it is no longer running, showing `label` and its
// progress; nullopt when Ctrl-C stopped the waiting (the job goes on in the daemon).
inline std::optional<nlohmann::json> WaitForJob(ControlClient& client, nlohmann::json job,
                                                const std::string& label, ProgressMode mode) {
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  const uint64_t id = job["id"].get<uint64_t>();
  ProgressDisplay display(mode);
  while (job["state"] == "running" && !interrupted) {
    display.Show(label, NumberOr(job, "bytes", 0), NumberOr(job, "total", 0));
    std::this_thread::sleep_for(kPollInterval);
    if (interrupted) break;
    job = Expect2xx(client.Get("/v1/jobs/" + std::to_string(id)));
  }
  display.Clear();
  if (job["state"] == "running") return std::nullopt;
  return job;
}

// The verify and restore commands (snapctl_restore.cc).
extern const char* const kVerifyHelp;
extern const char* const kRestoreHelp;
int VerifyCommand(Invocation& in);
int RestoreCommand(Invocation& in);

// inspect, get, diff and undelete (snapctl_inspect.cc).
extern const char* const kInspectHelp;
extern const char* const kGetHelp;
extern const char* const kDiffHelp;
extern const char* const kUndeleteHelp;
int InspectCommand(Invocation& in);
int GetCommand(Invocation& in);
int DiffCommand(Invocation& in);
int UndeleteCommand(Invocation& in);

}  // namespace snapd
