// A moment as a wall clock in some time zone shows it, to the hour: what calendar retention
// groups snapshots by. Kept apart from the zone database so that code taking it stays pure.
#pragma once

#include <cstdint>
#include <functional>

namespace snapd {

struct CivilTime {
  int year = 1970;
  unsigned month = 1;  // 1-12
  unsigned day = 1;    // 1-31
  unsigned hour = 0;   // 0-23
};

// Maps unix seconds to the wall clock of one zone (see CivilTimeIn in schedule/time_zone.h).
using CivilTimeOf = std::function<CivilTime(int64_t unix_seconds)>;

// The wall clock in UTC.
CivilTime UtcCivilTime(int64_t unix_seconds);

}  // namespace snapd
