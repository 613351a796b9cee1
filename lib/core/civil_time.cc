// UTC wall clock from unix seconds, by the proleptic Gregorian calendar of <chrono>.
#include "core/civil_time.h"

#include <chrono>

namespace snapd {

CivilTime UtcCivilTime(int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds t{seconds(unix_seconds)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  return CivilTime{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                   static_cast<unsigned>(ymd.day()),
                   static_cast<unsigned>(duration_cast<hours>(t - day).count())};
}

}  // namespace snapd
