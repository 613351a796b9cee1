// Tests of lib/core/logging: the journal and terminal line formats, detection of a journal
// stderr and log level names.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <sstream>

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/logging.h"

using namespace snapd;

namespace {

// What a logger formatted in `style` writes for one message at `level`.
std::string LineAt(LogStyle style, spdlog::level::level_enum level, const std::string& text) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(MakeLogFormatter(style));
  spdlog::logger logger("test", sink);
  logger.set_level(spdlog::level::trace);
  logger.log(level, text);
  return out.str();
}

// Sets or clears $JOURNAL_STREAM for one scope.
class JournalStreamVariable {
 public:
  explicit JournalStreamVariable(const char* value) {
    if (const char* old = std::getenv("JOURNAL_STREAM")) saved_ = old;
    had_ = std::getenv("JOURNAL_STREAM") != nullptr;
    if (value == nullptr) {
      ::unsetenv("JOURNAL_STREAM");
    } else {
      ::setenv("JOURNAL_STREAM", value, 1);
    }
  }
  ~JournalStreamVariable() {
    if (had_) {
      ::setenv("JOURNAL_STREAM", saved_.c_str(), 1);
    } else {
      ::unsetenv("JOURNAL_STREAM");
    }
  }

 private:
  bool had_ = false;
  std::string saved_;
};

}  // namespace

TEST_CASE("journal lines carry the syslog priority and no time", "[logging]") {
  CHECK(LineAt(LogStyle::kJournal, spdlog::level::err, "boom") == "<3>boom\n");
  CHECK(LineAt(LogStyle::kJournal, spdlog::level::warn, "careful") == "<4>careful\n");
  CHECK(LineAt(LogStyle::kJournal, spdlog::level::info, "saved 3 MB") == "<6>saved 3 MB\n");
  CHECK(LineAt(LogStyle::kJournal, spdlog::level::debug, "detail") == "<7>detail\n");
  CHECK(LineAt(LogStyle::kJournal, spdlog::level::trace, "more") == "<7>more\n");
  CHECK(LineAt(LogStyle::kJournal, spdlog::level::critical, "dead") == "<2>dead\n");
}

TEST_CASE("terminal lines start with an ISO time with milliseconds and the level", "[logging]") {
  const std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} (\w+) saved snapshot\n)");
  std::smatch match;
  std::string text = LineAt(LogStyle::kTerminal, spdlog::level::info, "saved snapshot");
  REQUIRE(std::regex_match(text, match, line));
  CHECK(match[1] == "info");
  text = LineAt(LogStyle::kTerminal, spdlog::level::err, "saved snapshot");
  REQUIRE(std::regex_match(text, match, line));
  CHECK(match[1] == "error");
  CHECK(text.find('<') == std::string::npos);
}

TEST_CASE("the journal style is chosen only when stderr is $JOURNAL_STREAM", "[logging]") {
  struct stat st;
  REQUIRE(::fstat(STDERR_FILENO, &st) == 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  {
    JournalStreamVariable variable(nullptr);
    CHECK(DetectLogStyle() == LogStyle::kTerminal);
  }
  {
    JournalStreamVariable variable(mine.c_str());
    CHECK(DetectLogStyle() == LogStyle::kJournal);
  }
  {
    // Inherited by a process whose stderr goes elsewhere.
    const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
    JournalStreamVariable variable(other.c_str());
    CHECK(DetectLogStyle() == LogStyle::kTerminal);
  }
  for (const char* bad : {"", "garbage", "1:", ":2"}) {
    INFO(bad);
    JournalStreamVariable variable(bad);
    CHECK(DetectLogStyle() == LogStyle::kTerminal);
  }
  JournalStreamVariable variable((mine + "x").c_str());
  CHECK(DetectLogStyle() == LogStyle::kTerminal);
}

TEST_CASE("log levels are the config's names", "[logging]") {
  CHECK(ParseLogLevel("trace") == spdlog::level::trace);
  CHECK(ParseLogLevel("debug") == spdlog::level::debug);
  CHECK(ParseLogLevel("info") == spdlog::level::info);
  CHECK(ParseLogLevel("warn") == spdlog::level::warn);
  CHECK(ParseLogLevel("warning") == spdlog::level::warn);
  CHECK(ParseLogLevel("error") == spdlog::level::err);
  CHECK(ParseLogLevel("off") == spdlog::level::off);
  CHECK_THROWS_AS(ParseLogLevel("verbose"), Error);
  CHECK_THROWS_AS(ParseLogLevel(""), Error);
}

TEST_CASE("SetUpLogging replaces the default logger and can be called again", "[logging]") {
  SetUpLogging("debug");
  CHECK(spdlog::default_logger()->level() == spdlog::level::debug);
  CHECK(spdlog::default_logger()->name() == "k3s-snapd");
  SetUpLogging("warn");
  CHECK(spdlog::default_logger()->level() == spdlog::level::warn);
  CHECK_THROWS_AS(SetUpLogging("loud"), Error);
  CHECK(spdlog::default_logger()->level() == spdlog::level::warn);
  SetUpLogging("info");
}
