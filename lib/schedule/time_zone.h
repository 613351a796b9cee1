// Time zones for cron schedules and calendar retention, looked up in the OS tz database
// (/usr/share/zoneinfo) through Howard Hinnant's date/tz.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/civil_time.h"

namespace date {
class time_zone;
}

namespace snapd {

// The zone with an IANA name ("Europe/Berlin", "UTC"); "Local" means LocalTimeZone(), as in Go.
// Throws Error::InvalidInput naming the zone when the database does not know it.
const date::time_zone& LocateTimeZone(std::string_view name);

// The machine's zone, chosen as Go's time.Local does so schedules fire when k3s's would: $TZ when
// set (empty means UTC), else /etc/localtime, else UTC.
const date::time_zone& LocalTimeZone();

// The wall clock of `zone` at `unix_seconds` (a repeated hour at the end of DST reads the same
// both times, a skipped one never).
CivilTime CivilTimeIn(const date::time_zone& zone, int64_t unix_seconds);

}  // namespace snapd
