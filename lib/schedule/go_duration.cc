// Go duration parsing, following time.ParseDuration digit by digit so the same texts are accepted.
#include "schedule/go_duration.h"

#include <cstdint>
#include <string>

#include "core/error.h"

namespace snapd {
namespace {

constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;  // |INT64_MIN|

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Nanoseconds per unit, or 0 for an unknown unit.
uint64_t UnitNanoseconds(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") return 1'000;
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60'000'000'000;
  if (unit == "h") return 3'600'000'000'000;
  return 0;
}

[[noreturn]] void Fail(std::string_view text, std::string_view problem) {
  throw Error::InvalidInput("invalid duration \"" + std::string(text) +
                            "\": " + std::string(problem));
}

}  // namespace

std::chrono::nanoseconds ParseGoDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) Fail(text, "empty");

  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0]))) Fail(text, "expected a number");
    // Integer part; more than 2^63 ns in any unit is an overflow.
    uint64_t whole = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (whole > kMaxMagnitude / 10) Fail(text, "overflow");
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > kMaxMagnitude) Fail(text, "overflow");
    }
    const bool has_whole = i > 0;
    s.remove_prefix(i);
    // Fraction part; digits beyond what 64 bits hold only add noise, as in Go.
    uint64_t fraction = 0;
    double scale = 1;
    bool has_fraction = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool saturated = false;
      for (i = 0; i < s.size() && IsDigit(s[i]); ++i) {
        if (saturated || fraction > (kMaxMagnitude - 1) / 10) {
          saturated = true;
          continue;
        }
        fraction = fraction * 10 + static_cast<uint64_t>(s[i] - '0');
        scale *= 10;
      }
      has_fraction = i > 0;
      s.remove_prefix(i);
    }
    if (!has_whole && !has_fraction) Fail(text, "expected a number");

    for (i = 0; i < s.size() && s[i] != '.' && !IsDigit(s[i]); ++i) {
    }
    if (i == 0) Fail(text, "missing unit (ns, us, ms, s, m or h)");
    const std::string_view unit_text = s.substr(0, i);
    s.remove_prefix(i);
    const uint64_t unit = UnitNanoseconds(unit_text);
    if (unit == 0) Fail(text, "unknown unit \"" + std::string(unit_text) + "\"");

    if (whole > kMaxMagnitude / unit) Fail(text, "overflow");
    uint64_t value = whole * unit;
    if (fraction > 0) {
      value += static_cast<uint64_t>(static_cast<double>(fraction) *
                                     (static_cast<double>(unit) / scale));
      if (value > kMaxMagnitude) Fail(text, "overflow");
    }
    // Both are at most 2^63: checked before adding, as the sum may not fit (found by fuzzing).
    if (value > kMaxMagnitude - total) Fail(text, "overflow");
    total += value;
  }
  if (negative) {
    return std::chrono::nanoseconds(total == kMaxMagnitude ? INT64_MIN
                                                           : -static_cast<int64_t>(total));
  }
  if (total > kMaxMagnitude - 1) Fail(text, "overflow");
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

}  // namespace snapd
