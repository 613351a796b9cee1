// Go's time.ParseDuration syntax ("1h30m", "1.5s", "300ms"), used by robfig/cron's @every and by
// k3s duration options.
#pragma once

#include <chrono>
#include <string_view>

namespace snapd {

// Parses a Go duration: an optional sign, then one or more decimal numbers each with a unit
// (ns, us, µs, ms, s, m, h); "0" alone needs no unit. Throws Error::InvalidInput naming the text
// and the problem (missing unit, unknown unit, overflow).
std::chrono::nanoseconds ParseGoDuration(std::string_view text);

}  // namespace snapd
