// Time zones for cron schedules, looked up in the OS tz database (/usr/share/zoneinfo) through
// Howard Hinnant's date/tz.
#pragma once

#include <string_view>

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

}  // namespace snapd
