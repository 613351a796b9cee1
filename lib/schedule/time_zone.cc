// Zone lookup with Go's rules for the local zone.
#include "schedule/time_zone.h"

#include <date/tz.h>

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

}  // namespace snapd
