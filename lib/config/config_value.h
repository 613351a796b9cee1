// Parsing and formatting of config values written as text: bools, integers and Go-style
// durations. Parse errors throw Error::InvalidInput with a message such as
// `expected an integer, got "five"` that the caller prefixes with the file or flag and key.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace snapd {

// true/false, yes/no, on/off, y/n, 1/0 in any letter case (YAML 1.1 and Go's ParseBool).
bool ParseConfigBool(std::string_view text);

// A decimal integer with an optional sign that fits an int: no fraction, no exponent, no hex.
int ParseConfigInt(std::string_view text);

// A Go duration ("5m", "1h30m", "1.5s", "300ms") or a plain number of seconds ("300").
// Rounded up to whole seconds so that a short non-zero timeout never becomes zero.
// Negative durations are rejected.
std::chrono::seconds ParseConfigDuration(std::string_view text);

// The shortest Go-style text for `d`: "5m", "1h30m", "45s", "0s".
std::string FormatConfigDuration(std::chrono::seconds d);

// `text` in double quotes for an error message, escaped and cut to a readable length.
std::string QuoteForMessage(std::string_view text);

}  // namespace snapd
