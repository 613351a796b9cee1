// RFC 3339 formatting and parsing of unix times (UTC), as records and the API carry them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace snapd {

// "2026-11-22T01:02:03Z"
std::string FormatRfc3339(int64_t unix_seconds);

// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"; std::nullopt when malformed.
std::optional<int64_t> ParseRfc3339(std::string_view text);

}  // namespace snapd
