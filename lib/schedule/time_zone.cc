// Zone lookup with Go's rules for the local zone.
#include "schedule/time_zone.h"

#include <date/tz.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>

#include "core/error.h"

namespace snapd {
namespace {

const date::time_zone* FindZone(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;  // unknown name, or no tz database at all
  }
}

const date::time_zone& Utc() {
  if (const date::time_zone* utc = FindZone("UTC")) return *utc;
  throw Error::Permanent("time zone database has no UTC zone (is tzdata installed?)");
}

}  // namespace

const date::time_zone& LocateTimeZone(std::string_view name) {
  if (name == "Local") return LocalTimeZone();
  if (const date::time_zone* zone = FindZone(name)) return *zone;
  throw Error::InvalidInput("unknown time zone \"" + std::string(name) + "\"");
}

const date::time_zone& LocalTimeZone() {
  if (const char* tz = std::getenv("TZ")) {
    std::string_view name = tz;
    if (name.starts_with(':')) name.remove_prefix(1);
    constexpr std::string_view kZoneInfoDir = "/usr/share/zoneinfo/";
    if (name.starts_with(kZoneInfoDir)) name.remove_prefix(kZoneInfoDir.size());
    if (const date::time_zone* zone = name.empty() ? nullptr : FindZone(name)) return *zone;
    return Utc();
  }
  try {
    return *date::current_zone();
  } catch (const std::exception&) {
    return Utc();  // no readable /etc/localtime, as Go falls back
  }
}

CivilTime CivilTimeIn(const date::time_zone& zone, int64_t unix_seconds) {
  const date::local_seconds local =
      zone.to_local(date::sys_seconds{std::chrono::seconds(unix_seconds)});
  const date::local_days day = date::floor<date::days>(local);
  const date::year_month_day ymd(day);
  return CivilTime{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                   static_cast<unsigned>(ymd.day()),
                   static_cast<unsigned>(date::floor<std::chrono::hours>(local - day).count())};
}

}  // namespace snapd
