// How snapctl shows sizes, ages, rates and remaining times to people: short, rounded text
// ("23.4 MiB", "5m ago", "12.0 MiB/s", "1:05"). JSON output never goes through these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace snapd {

// Binary units with one decimal from 1 KiB on: "0 B", "1023 B", "1.0 KiB", "23.4 MiB". A value
// that would round to 1024.0 of a unit is shown in the next one ("1.0 MiB"); TiB is the largest.
std::string FormatHumanBytes(uint64_t bytes);

// A rate in the units of FormatHumanBytes per second: "512 B/s", "45.2 MiB/s".
std::string FormatHumanRate(double bytes_per_second);

// The largest whole unit of a duration, as kubectl shows ages: "45s", "5m", "3h", "2d", "3y".
// Negative durations are clamped to "0s".
std::string FormatShortDuration(int64_t seconds);

// How long ago `then` was at `now` (unix seconds): "5m ago"; "in the future" when `then` is
// more than a minute ahead (clock skew between daemon and client).
std::string FormatAge(int64_t then, int64_t now);

// A remaining time as a clock: "0:07", "12:05", "1:02:03"; "--:--" when unknown; ">99h" beyond.
std::string FormatEta(std::optional<double> seconds);

}  // namespace snapd
