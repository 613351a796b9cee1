// snapctl's terminal output: human sizes, ages, ETAs, rate smoothing and progress lines.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "control/human_format.h"
#include "control/progress_bar.h"

namespace snapd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
constexpr uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024, kTiB = kGiB * 1024;

TEST_CASE("human sizes pick the unit at each boundary", "[snapctl]") {
  CHECK(FormatHumanBytes(0) == "0 B");
  CHECK(FormatHumanBytes(1) == "1 B");
  CHECK(FormatHumanBytes(1023) == "1023 B");
  CHECK(FormatHumanBytes(kKiB) == "1.0 KiB");
  CHECK(FormatHumanBytes(1536) == "1.5 KiB");
  CHECK(FormatHumanBytes(kMiB - 1) == "1.0 MiB");  // 1023.999 KiB would read "1024.0 KiB"
  CHECK(FormatHumanBytes(kMiB - 60 * kKiB) == "964.0 KiB");
  CHECK(FormatHumanBytes(kMiB) == "1.0 MiB");
  CHECK(FormatHumanBytes(23 * kMiB + 420 * kKiB) == "23.4 MiB");
  CHECK(FormatHumanBytes(kGiB - 1) == "1.0 GiB");
  CHECK(FormatHumanBytes(kGiB) == "1.0 GiB");
  CHECK(FormatHumanBytes(5 * kGiB + kGiB / 2) == "5.5 GiB");
  CHECK(FormatHumanBytes(kTiB - 1) == "1.0 TiB");
  CHECK(FormatHumanBytes(kTiB) == "1.0 TiB");
  CHECK(FormatHumanBytes(2048 * kTiB) == "2048.0 TiB");  // TiB is the largest unit
}

TEST_CASE("human rates use the same units per second", "[snapctl]") {
  CHECK(FormatHumanRate(0) == "0 B/s");
  CHECK(FormatHumanRate(-5) == "0 B/s");
  CHECK(FormatHumanRate(512) == "512 B/s");
  CHECK(FormatHumanRate(1023.7) == "1.0 KiB/s");
  CHECK(FormatHumanRate(45.25 * kMiB) == "45.2 MiB/s");
  CHECK(FormatHumanRate(std::nan("")) == "0 B/s");
}

TEST_CASE("ages read like kubectl's", "[snapctl]") {
  const int64_t now = 1795309196;
  CHECK(FormatAge(now, now) == "0s ago");
  CHECK(FormatAge(now - 59, now) == "59s ago");
  CHECK(FormatAge(now - 60, now) == "1m ago");
  CHECK(FormatAge(now - 5 * 60 - 59, now) == "5m ago");
  CHECK(FormatAge(now - 3599, now) == "59m ago");
  CHECK(FormatAge(now - 3600, now) == "1h ago");
  CHECK(FormatAge(now - 3 * 3600 - 1800, now) == "3h ago");
  CHECK(FormatAge(now - 86399, now) == "23h ago");
  CHECK(FormatAge(now - 2 * 86400, now) == "2d ago");
  CHECK(FormatAge(now - 364 * 86400, now) == "364d ago");
  CHECK(FormatAge(now - 3 * 365 * 86400, now) == "3y ago");
  // The daemon's clock a little ahead is "now"; far ahead is said plainly.
  CHECK(FormatAge(now + 30, now) == "0s ago");
  CHECK(FormatAge(now + 3600, now) == "in the future");
  CHECK(FormatShortDuration(-10) == "0s");
}

TEST_CASE("ETAs are clock times, unknown or capped", "[snapctl]") {
  CHECK(FormatEta(std::nullopt) == "--:--");
  CHECK(FormatEta(-1.0) == "--:--");
  CHECK(FormatEta(std::numeric_limits<double>::infinity()) == "--:--");
  CHECK(FormatEta(0.0) == "0:00");
  CHECK(FormatEta(6.2) == "0:07");  // rounded up: never "0:00" while bytes remain
  CHECK(FormatEta(59.0) == "0:59");
  CHECK(FormatEta(60.0) == "1:00");
  CHECK(FormatEta(12 * 60 + 5) == "12:05");
  CHECK(FormatEta(3599.0) == "59:59");
  CHECK(FormatEta(3600.0) == "1:00:00");
  CHECK(FormatEta(3723.0) == "1:02:03");
  CHECK(FormatEta(99 * 3600 + 3599.0) == "99:59:59");
  CHECK(FormatEta(100 * 3600.0) == ">99h");
}

TEST_CASE("a steady transfer rate is measured exactly", "[snapctl]") {
  TransferRate rate;
  auto t0 = TransferRate::TimePoint{};
  rate.Sample(0, t0);
  CHECK_FALSE(rate.BytesPerSecond());
  rate.Sample(0, t0 + seconds(5));  // etcd preparing: not transfer time
  CHECK_FALSE(rate.BytesPerSecond());
  rate.Sample(10 * kMiB, t0 + seconds(6));  // the first bytes came within the last second
  REQUIRE(rate.BytesPerSecond());
  CHECK(*rate.BytesPerSecond() == Approx(10.0 * kMiB));
  for (int i = 1; i <= 20; ++i) {
    rate.Sample(10 * kMiB + i * 2 * kMiB, t0 + seconds(6) + milliseconds(200 * i));
    REQUIRE(rate.BytesPerSecond());
    CHECK(*rate.BytesPerSecond() == Approx(10.0 * kMiB));
  }
}

TEST_CASE("the rate is smoothed across a change and forgets the old rate", "[snapctl]") {
  TransferRate rate(seconds(2));
  auto t = TransferRate::TimePoint{};
  uint64_t done = 1;
  rate.Sample(done, t);
  for (int i = 0; i < 50; ++i) {  // 10 s at 10 MiB/s
    t += milliseconds(200);
    done += 2 * kMiB;
    rate.Sample(done, t);
  }
  REQUIRE(*rate.BytesPerSecond() == Approx(10.0 * kMiB));
  // The transfer drops to 1 MiB/s: one poll later the rate moved towards it but not all the
  // way (no jump), and after many time constants it is there.
  t += milliseconds(200);
  done += kMiB / 5;
  rate.Sample(done, t);
  double after_one = *rate.BytesPerSecond();
  CHECK(after_one < 10.0 * kMiB);
  CHECK(after_one > 5.0 * kMiB);
  for (int i = 0; i < 100; ++i) {  // 20 s = 10 time constants
    t += milliseconds(200);
    done += kMiB / 5;
    rate.Sample(done, t);
  }
  CHECK(*rate.BytesPerSecond() == Approx(1.0 * kMiB).epsilon(0.01));
}

TEST_CASE("rate samples out of order or going back are handled", "[snapctl]") {
  TransferRate rate;
  auto t = TransferRate::TimePoint{} + seconds(100);
  rate.Sample(kMiB, t);
  rate.Sample(2 * kMiB, t + seconds(1));
  REQUIRE(*rate.BytesPerSecond() == Approx(1.0 * kMiB));
  rate.Sample(9 * kMiB, t + seconds(1));  // no time passed: ignored, no division by zero
  rate.Sample(9 * kMiB, t);               // earlier: ignored
  CHECK(*rate.BytesPerSecond() == Approx(1.0 * kMiB));
  rate.Sample(kKiB, t + seconds(2));  // a new stream: starts over
  CHECK_FALSE(rate.BytesPerSecond());
  rate.Sample(kKiB + 4 * kMiB, t + seconds(3));
  CHECK(*rate.BytesPerSecond() == Approx(4.0 * kMiB));
}

TEST_CASE("progress lines show percent, sizes, rate and ETA at a fixed width", "[snapctl]") {
  ProgressBar bar("on-demand-server-1-1795309196");
  auto t = ProgressBar::TimePoint{};
  bar.Update(20 * kMiB, 300 * kMiB, t);
  bar.Update(120 * kMiB, 300 * kMiB, t + seconds(2));  // 50 MiB/s, 180 MiB left
  REQUIRE(bar.Percent() == 40);
  REQUIRE(*bar.SecondsLeft() == Approx(3.6));

  std::string line = bar.Line(100);
  CHECK(line.size() == 100);
  CHECK(line.find("on-demand-server-1-1795309196 [") == 0);
  CHECK(line.find(" 40% ") != std::string::npos);
  CHECK(line.find("120.0 MiB / 300.0 MiB") != std::string::npos);
  CHECK(line.find("50.0 MiB/s") != std::string::npos);
  CHECK(line.find("ETA 0:04") != std::string::npos);
  // The bar is 40% full.
  size_t open = line.find('['), close = line.find(']');
  std::string cells = line.substr(open + 1, close - open - 1);
  CHECK(cells.find_first_not_of('=') == cells.size() * 40 / 100);
  CHECK(cells[cells.size() * 40 / 100] == '>');

  CHECK(bar.PlainLine() == "on-demand-server-1-1795309196: 40% 120.0 MiB of 300.0 MiB, 50.0 MiB/s");

  // Same width whatever the numbers, so "\r" redraws leave nothing behind.
  for (size_t width : {20u, 57u, 60u, 70u, 79u, 80u, 120u, 200u}) {
    CHECK(bar.Line(width).size() == width);
  }
  ProgressBar small("x");
  small.Update(5, 1000, t);
  CHECK(small.Line(80).size() == 80);
  CHECK(small.Line(80).size() == bar.Line(80).size());
}

TEST_CASE("a long label is shortened in the middle, or left out, never the stats", "[snapctl]") {
  ProgressBar bar("saving on-demand-a-very-long-node-name-1795309196");
  bar.Update(kMiB, 2 * kMiB, ProgressBar::TimePoint{});
  std::string line = bar.Line(100);
  CHECK(line.size() == 100);
  CHECK(line.find("saving on-") == 0);
  CHECK(line.find("...") != std::string::npos);
  CHECK(line.find("1795309196 [") != std::string::npos);
  CHECK(line.find(" 50% ") != std::string::npos);
  CHECK(line.find("1.0 MiB / 2.0 MiB") != std::string::npos);
  // At 80 columns a cut label would be a few letters: the bar takes the room instead.
  std::string narrow = bar.Line(80);
  CHECK(narrow.size() == 80);
  CHECK(narrow.find("[=") == 0);
  CHECK(narrow.find("saving") == std::string::npos);
  CHECK(narrow.find(" 50% ") != std::string::npos);
  // A short label stays whole where the long one had to go.
  ProgressBar short_label("saving");
  short_label.Update(kMiB, 2 * kMiB, ProgressBar::TimePoint{});
  CHECK(short_label.Line(80).find("saving [") == 0);
}

TEST_CASE("progress with the total unknown shows no percent or ETA, and no garbage", "[snapctl]") {
  ProgressBar bar("saving");
  auto t = ProgressBar::TimePoint{};
  bar.Update(0, 0, t);
  std::string first = bar.Line(80);
  CHECK(first.size() == 80);
  CHECK(first.find(" --% ") != std::string::npos);
  CHECK(first.find("0 B / ?") != std::string::npos);
  CHECK(first.find("ETA --:--") != std::string::npos);
  bar.Update(2 * kMiB, 0, t + seconds(1));
  bar.Update(4 * kMiB, 0, t + seconds(2));
  std::string line = bar.Line(80);
  CHECK(line.size() == 80);
  CHECK_FALSE(bar.Percent());
  CHECK_FALSE(bar.SecondsLeft());
  CHECK(line.find("2.0 MiB/s") != std::string::npos);
  CHECK(line.find("ETA --:--") != std::string::npos);
  size_t open = line.find('['), close = line.find(']');
  CHECK(line.substr(open + 1, close - open - 1).find_first_not_of(' ') == std::string::npos);
  for (char c : line) CHECK((c >= 0x20 && c < 0x7f));  // printable: no control bytes
  CHECK(bar.PlainLine() == "saving: 4.0 MiB, 2.0 MiB/s");
}

TEST_CASE("progress at and past the total stops at 100%", "[snapctl]") {
  ProgressBar bar("saving");
  auto t = ProgressBar::TimePoint{};
  bar.Update(kMiB - 1, kMiB, t);
  CHECK(bar.Percent() == 99);  // 100% only when all is through
  bar.Update(kMiB, kMiB, t + seconds(1));
  CHECK(bar.Percent() == 100);
  CHECK(*bar.SecondsLeft() == 0);
  bar.Update(kMiB + 10, kMiB, t + seconds(2));
  CHECK(bar.Percent() == 100);
  std::string line = bar.Line(80);
  CHECK(line.find("100% ") != std::string::npos);
  CHECK(line.find('>') == std::string::npos);
  CHECK(line.find("ETA 0:00") != std::string::npos);
}

}  // namespace
}  // namespace snapd
