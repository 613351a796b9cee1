// The daemon's logging: spdlog to stderr, with a time stamp at a terminal and in journald's
// "<priority>message" form when stderr is the journal.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/common.h>
#include <spdlog/formatter.h>

namespace snapd {

enum class LogStyle {
  kTerminal,  // "2026-11-22T01:02:03.456 info message"
  kJournal,   // "<6>message": journald adds the time and takes the level from the prefix
};

// kJournal when $JOURNAL_STREAM ("DEVICE:INODE", set by systemd) names the file stderr is, as
// systemd.exec(5) advises: a program started with stderr redirected elsewhere inherits the
// variable but does not write to the journal.
LogStyle DetectLogStyle();

// The line format of `style`. Journal priorities: error <3>, warn <4>, info <6>, debug and
// trace <7>, critical <2>.
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogStyle style);

// trace, debug, info, warn (or warning), error, critical, off; anything else is
// Error::InvalidInput.
spdlog::level::level_enum ParseLogLevel(std::string_view level);

// Makes the default spdlog logger write to stderr in DetectLogStyle()'s form at `level`.
// Safe to call again (e.g. after a reload changed log-level).
void SetUpLogging(std::string_view level);

}  // namespace snapd
