// The progress display of long transfers (snapctl save, later restore): fed (done, total, now)
// samples, it keeps a smoothed rate and renders either a fixed-width line to redraw in place on
// a terminal or a plain line for logs. Pure: no I/O and no clock of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace snapd {

// Bytes per second, smoothed exponentially over about `time_constant`, so the rate and the ETA
// do not jump with every poll.
class TransferRate {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit TransferRate(std::chrono::duration<double> time_constant = std::chrono::seconds(3))
      : time_constant_(time_constant.count()) {}

  // Records that `done` bytes were through at `now`. Samples no later than the previous one
  // are ignored; a `done` lower than before starts over; time while `done` stays 0 does not
  // count.
  void Sample(uint64_t done, TimePoint now);
  // Unknown until two samples span some time.
  std::optional<double> BytesPerSecond() const { return rate_; }

 private:
  double time_constant_;
  std::optional<TimePoint> last_time_;
  uint64_t last_done_ = 0;
  double weighted_bytes_ = 0;  // bytes and seconds of the recent past, older ones fading
  double weighted_seconds_ = 0;
  std::optional<double> rate_;
};

class ProgressBar {
 public:
  using TimePoint = TransferRate::TimePoint;

  // `label` starts the line ("saving", a snapshot name); it is shortened when space is short.
  explicit ProgressBar(std::string label) : label_(std::move(label)) {}
  // Once the label is known better (the snapshot's name arrives after the job starts).
  void set_label(std::string label) { label_ = std::move(label); }

  // The latest sample: `total` is 0 while unknown.
  void Update(uint64_t done, uint64_t total, TimePoint now);

  // Exactly `width` columns, for "\r"-redrawing: label, bar, percent, bytes done and total,
  // rate and ETA, each field fixed-width so the line does not jitter between redraws.
  std::string Line(size_t width) const;
  // One line for logs: "saving NAME: 40% 120.0 MiB of 300.0 MiB, 45.2 MiB/s".
  std::string PlainLine() const;

  // Whole percent done (rounded down, at most 100); nullopt while the total is unknown.
  std::optional<int> Percent() const;
  // Seconds left at the smoothed rate; nullopt while the total or the rate is unknown.
  std::optional<double> SecondsLeft() const;

 private:
  std::string Stats() const;
  // The label if it fits in `room` columns, else cut in the middle, else nothing.
  std::string ShortLabel(size_t room) const;

  std::string label_;
  uint64_t done_ = 0;
  uint64_t total_ = 0;
  TransferRate rate_;
};

}  // namespace snapd
