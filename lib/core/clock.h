// The wall clock behind an interface, so schedules, names and retention can be tested at any
// chosen time.
#pragma once

#include <chrono>
#include <cstdint>

namespace snapd {

using SystemTime = std::chrono::system_clock::time_point;

// Whole seconds since the Unix epoch (truncated toward it): what names, records and the API
// carry.
inline int64_t UnixSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  SystemTime Now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace snapd
