// Parsing and formatting of bools, integers and Go-style durations in config values.
#include "config/config_value.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>

#include "core/error.h"

namespace snapd {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

[[noreturn]] void ThrowBadDuration(std::string_view text, std::string_view why) {
  throw Error::InvalidInput("expected a duration such as 30s, 5m or 1h30m, got " +
                            QuoteForMessage(text) + " (" + std::string(why) + ")");
}

struct DurationUnit {
  std::string_view suffix;
  std::int64_t nanoseconds;
};

// Longest suffixes first so that "ms" is not read as "m".
constexpr std::array<DurationUnit, 8> kDurationUnits = {{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign, as Go accepts
    {"\xCE\xBCs", 1'000},  // U+03BC greek mu, as Go accepts
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

}  // namespace

bool ParseConfigBool(std::string_view text) {
  const std::string lower = Lower(text);
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "y" || lower == "1") {
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "off" || lower == "n" || lower == "0") {
    return false;
  }
  throw Error::InvalidInput("expected true or false, got " + QuoteForMessage(text));
}

int ParseConfigInt(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with('+') && !digits.starts_with("+-")) digits.remove_prefix(1);
  int value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || ptr != end || ec == std::errc::invalid_argument) {
    throw Error::InvalidInput("expected an integer, got " + QuoteForMessage(text));
  }
  if (ec == std::errc::result_out_of_range) {
    throw Error::InvalidInput("integer out of range: " + QuoteForMessage(text));
  }
  return value;
}

std::chrono::seconds ParseConfigDuration(std::string_view text) {
  if (text.empty()) ThrowBadDuration(text, "empty");
  std::string_view rest = text;
  if (rest.front() == '-') ThrowBadDuration(text, "negative");
  if (rest.front() == '+') rest.remove_prefix(1);

  // A plain number is seconds; Go itself only accepts "0" without a unit.
  bool all_digits = !rest.empty();
  for (char c : rest) all_digits = all_digits && IsDigit(c);
  if (all_digits) {
    long long seconds = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), seconds);
    if (ec != std::errc() || ptr != rest.data() + rest.size() ||
        seconds > std::numeric_limits<std::int64_t>::max() / 1'000'000'000) {
      ThrowBadDuration(text, "too large");
    }
    return std::chrono::seconds(seconds);
  }

  // Summed in nanoseconds like Go, with Go's limit of about 292 years.
  using Wide = unsigned __int128;
  constexpr Wide kMaxNanoseconds = std::numeric_limits<std::int64_t>::max();
  Wide total = 0;
  while (!rest.empty()) {
    Wide whole = 0;
    Wide fraction = 0;
    Wide fraction_scale = 1;
    bool any_digit = false;
    while (!rest.empty() && IsDigit(rest.front())) {
      whole = whole * 10 + static_cast<Wide>(rest.front() - '0');
      if (whole > kMaxNanoseconds) ThrowBadDuration(text, "too large");
      any_digit = true;
      rest.remove_prefix(1);
    }
    if (!rest.empty() && rest.front() == '.') {
      rest.remove_prefix(1);
      while (!rest.empty() && IsDigit(rest.front())) {
        // Digits beyond nanosecond precision of an hour cannot change the result.
        if (fraction_scale < Wide(1'000'000'000'000'000'000ULL)) {
          fraction = fraction * 10 + static_cast<Wide>(rest.front() - '0');
          fraction_scale *= 10;
        }
        any_digit = true;
        rest.remove_prefix(1);
      }
    }
    if (!any_digit) ThrowBadDuration(text, "expected a number");
    const DurationUnit* unit = nullptr;
    for (const DurationUnit& candidate : kDurationUnits) {
      if (rest.starts_with(candidate.suffix) &&
          (unit == nullptr || candidate.suffix.size() > unit->suffix.size())) {
        unit = &candidate;
      }
    }
    if (unit == nullptr) ThrowBadDuration(text, "missing or unknown unit; use ns, us, ms, s, m, h");
    rest.remove_prefix(unit->suffix.size());
    const Wide unit_ns = static_cast<Wide>(unit->nanoseconds);
    total += whole * unit_ns + (fraction * unit_ns + fraction_scale - 1) / fraction_scale;
    if (total > kMaxNanoseconds) ThrowBadDuration(text, "too large");
  }
  constexpr Wide kNanosecondsPerSecond = 1'000'000'000;
  return std::chrono::seconds(
      static_cast<long long>((total + kNanosecondsPerSecond - 1) / kNanosecondsPerSecond));
}

std::string FormatConfigDuration(std::chrono::seconds d) {
  long long seconds = d.count();
  if (seconds == 0) return "0s";
  std::string out;
  if (seconds < 0) {
    out = "-";
    seconds = -seconds;
  }
  const long long hours = seconds / 3600;
  const long long minutes = seconds % 3600 / 60;
  const long long rest = seconds % 60;
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (rest) out += std::to_string(rest) + "s";
  return out;
}

std::string QuoteForMessage(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

}  // namespace snapd
