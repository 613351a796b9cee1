// Rounding and unit choice for the human-readable forms of sizes, ages, rates and ETAs.
#include "control/human_format.h"

#include <cmath>
#include <cstdio>

namespace snapd {
namespace {

constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
constexpr int kLargestUnit = 4;

// `value` in bytes (or bytes per second), shown in the largest unit where it stays >= 1.
std::string FormatScaled(double value, const char* suffix) {
  int unit = 0;
  double scaled = value;
  // Decide on the value as it will be printed (whole bytes, tenths of the larger units), so
  // 1048575 bytes reads "1.0 MiB" and not "1024.0 KiB".
  auto shown_reaches_1024 = [&] {
    return unit == 0 ? std::round(scaled) >= 1024 : std::round(scaled * 10) >= 1024 * 10;
  };
  while (unit < kLargestUnit && shown_reaches_1024()) {
    scaled /= 1024;
    ++unit;
  }
  if (unit == 0) return std::to_string(static_cast<uint64_t>(std::llround(scaled))) + " B" + suffix;
  char text[48];
  std::snprintf(text, sizeof text, "%.1f %s%s", scaled, kUnits[unit], suffix);
  return text;
}

}  // namespace

std::string FormatHumanBytes(uint64_t bytes) {
  return FormatScaled(static_cast<double>(bytes), "");
}

std::string FormatHumanRate(double bytes_per_second) {
  if (!(bytes_per_second > 0)) bytes_per_second = 0;  // also catches NaN
  return FormatScaled(bytes_per_second, "/s");
}

std::string FormatShortDuration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h";
  if (seconds < 365 * 86400) return std::to_string(seconds / 86400) + "d";
  return std::to_string(seconds / (365 * 86400)) + "y";
}

std::string FormatAge(int64_t then, int64_t now) {
  // A few seconds ahead is the daemon's clock being slightly ahead of ours: call it now.
  if (then - now > 60) return "in the future";
  return FormatShortDuration(now - then) + " ago";
}

std::string FormatEta(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds) || *seconds < 0) return "--:--";
  if (*seconds >= 100 * 3600) return ">99h";
  auto total = static_cast<int64_t>(std::ceil(*seconds));
  int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char text[32];
  if (h > 0) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s));
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(s));
  }
  return text;
}

}  // namespace snapd
