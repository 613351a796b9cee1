// Fuzzes Go durations (@every and k3s duration options such as etcd-s3-timeout) against a small
// exact model of time.ParseDuration for texts without fractions, and sign symmetry.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "fuzz_input.h"
#include "schedule/go_duration.h"

using snapd::fuzz::Check;

namespace {

std::optional<int64_t> Parse(std::string_view text) {
  try {
    return snapd::ParseGoDuration(text).count();
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kInvalidInput, "bad durations are invalid input");
    return std::nullopt;
  }
}

// Go's rules for a text of whole numbers and units, in 128-bit arithmetic: nullopt where Go
// returns an error.
std::optional<int64_t> Model(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  const __int128 limit = static_cast<__int128>(1) << 63;
  __int128 total = 0;
  while (!s.empty()) {
    size_t digits = 0;
    __int128 whole = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
      whole = whole * 10 + (s[digits] - '0');
      if (whole > limit) return std::nullopt;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    s.remove_prefix(digits);
    size_t unit_size = 0;
    while (unit_size < s.size() && s[unit_size] != '.' &&
           (s[unit_size] < '0' || s[unit_size] > '9')) {
      ++unit_size;
    }
    const std::string_view unit = s.substr(0, unit_size);
    s.remove_prefix(unit_size);
    int64_t scale = 0;
    if (unit == "ns") scale = 1;
    if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") scale = 1'000;
    if (unit == "ms") scale = 1'000'000;
    if (unit == "s") scale = 1'000'000'000;
    if (unit == "m") scale = 60'000'000'000;
    if (unit == "h") scale = 3'600'000'000'000;
    if (scale == 0) return std::nullopt;
    total += whole * scale;
    if (total > limit) return std::nullopt;
  }
  if (negative) return static_cast<int64_t>(-total);
  if (total == limit) return std::nullopt;
  return static_cast<int64_t>(total);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = snapd::fuzz::AsText(data, size);
  if (text.size() > 1024) return 0;  // a config value, not a document
  const std::optional<int64_t> parsed = Parse(text);
  if (text.find('.') == std::string_view::npos) {
    Check(parsed == Model(text), "whole-number durations parse as Go parses them");
  }
  // A sign in front negates (where both fit in 64 bits).
  if (parsed && !text.empty() && text[0] != '-' && text[0] != '+') {
    Check(Parse("-" + std::string(text)) == -*parsed, "a minus sign negates");
    Check(Parse("+" + std::string(text)) == parsed, "a plus sign changes nothing");
  }
  return 0;
}
