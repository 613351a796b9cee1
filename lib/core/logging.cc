// SetUpLogging and the journal priority prefix.
#include "core/logging.h"

#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/error.h"

namespace snapd {
namespace {

constexpr char kPriorityFlag = '*';

std::string_view PriorityPrefix(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return SD_CRIT;
    case spdlog::level::err:
      return SD_ERR;
    case spdlog::level::warn:
      return SD_WARNING;
    case spdlog::level::info:
      return SD_INFO;
    default:
      return SD_DEBUG;
  }
}

// "%*" in a pattern: the message's syslog priority as journald reads it from a stream.
class PriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view prefix = PriorityPrefix(msg.level);
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

}  // namespace

LogStyle DetectLogStyle() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return LogStyle::kTerminal;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  char end = 0;
  if (std::sscanf(stream, "%llu:%llu%c", &device, &inode, &end) != 2) return LogStyle::kTerminal;
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) return LogStyle::kTerminal;
  const bool same = static_cast<unsigned long long>(st.st_dev) == device &&
                    static_cast<unsigned long long>(st.st_ino) == inode;
  return same ? LogStyle::kJournal : LogStyle::kTerminal;
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogStyle style) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (style == LogStyle::kJournal) {
    formatter->add_flag<PriorityFlag>(kPriorityFlag);
    formatter->set_pattern(std::string("%") + kPriorityFlag + "%v");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  return formatter;
}

spdlog::level::level_enum ParseLogLevel(std::string_view level) {
  const std::string name(level);
  const spdlog::level::level_enum parsed = spdlog::level::from_str(name);
  if (parsed == spdlog::level::off && name != "off") {
    throw Error::InvalidInput("unknown log level \"" + name +
                              "\"; expected trace, debug, info, warn or error");
  }
  return parsed;
}

void SetUpLogging(std::string_view level) {
  const spdlog::level::level_enum parsed = ParseLogLevel(level);
  const LogStyle style = DetectLogStyle();
  spdlog::sink_ptr sink;
  if (style == LogStyle::kJournal) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  }
  sink->set_formatter(MakeLogFormatter(style));
  auto logger = std::make_shared<spdlog::logger>("k3s-snapd", std::move(sink));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace snapd
