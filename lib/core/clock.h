// The wall clock behind an interface, so schedules, names and retention can be tested at any
// chosen time.
#pragma once

#include <chrono>

namespace snapd {

using SystemTime = std::chrono::system_clock::time_point;

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
