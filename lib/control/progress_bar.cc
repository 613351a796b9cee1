// Rate smoothing and the layout of progress lines.
#include "control/progress_bar.h"

#include <algorithm>
#include <cmath>

#include "control/human_format.h"

namespace snapd {
namespace {

constexpr size_t kMinBarCells = 10;
constexpr size_t kMaxBarCells = 50;
constexpr size_t kMinShortLabel = 16;  // shortest useful cut label: "saving on-...1796"
constexpr size_t kSizeWidth = 10;      // "1023.9 KiB"
constexpr size_t kRateWidth = 12;      // "1023.9 KiB/s"
constexpr size_t kEtaWidth = 8;        // "99:59:59"

std::string PadLeft(std::string text, size_t width) {
  if (text.size() < width) text.insert(0, width - text.size(), ' ');
  return text;
}

std::string PadRight(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

// Exactly `width` characters: padded, or cut in the middle with "..." so both the start and
// the end of a name (its prefix and its timestamp) stay readable.
std::string FitText(const std::string& text, size_t width) {
  if (text.size() <= width) return PadRight(text, width);
  if (width <= 3) return text.substr(0, width);
  size_t keep = width - 3;
  size_t head = (keep + 1) / 2;
  return text.substr(0, head) + "..." + text.substr(text.size() - (keep - head));
}

}  // namespace

void TransferRate::Sample(uint64_t done, TimePoint now) {
  if (!last_time_ || done < last_done_) {
    weighted_bytes_ = 0;
    weighted_seconds_ = 0;
    rate_.reset();
    last_time_ = now;
    last_done_ = done;
    return;
  }
  if (now <= *last_time_) return;
  if (done == 0) {  // nothing through yet (connecting, etcd preparing): not transfer time
    last_time_ = now;
    return;
  }
  double seconds = std::chrono::duration<double>(now - *last_time_).count();
  // A window that forgets exponentially: the rate is the bytes over the time of the recent
  // past, so the first interval gives its own rate and a steady rate is shown exactly.
  double keep = std::exp(-seconds / time_constant_);
  weighted_bytes_ = weighted_bytes_ * keep + static_cast<double>(done - last_done_);
  weighted_seconds_ = weighted_seconds_ * keep + seconds;
  rate_ = weighted_bytes_ / weighted_seconds_;
  last_time_ = now;
  last_done_ = done;
}

void ProgressBar::Update(uint64_t done, uint64_t total, TimePoint now) {
  done_ = done;
  total_ = total;
  rate_.Sample(done, now);
}

std::optional<int> ProgressBar::Percent() const {
  if (total_ == 0) return std::nullopt;
  if (done_ >= total_) return 100;
  double percent = std::floor(static_cast<double>(done_) / static_cast<double>(total_) * 100);
  return std::min(99, static_cast<int>(percent));  // 100% only once all is done
}

std::optional<double> ProgressBar::SecondsLeft() const {
  if (total_ == 0) return std::nullopt;
  if (done_ >= total_) return 0.0;
  std::optional<double> rate = rate_.BytesPerSecond();
  if (!rate || *rate <= 0) return std::nullopt;
  return static_cast<double>(total_ - done_) / *rate;
}

std::string ProgressBar::Stats() const {
  std::optional<int> percent = Percent();
  std::optional<double> rate = rate_.BytesPerSecond();
  std::string text = percent ? PadLeft(std::to_string(*percent) + "%", 4) : " --%";
  text += " " + PadLeft(FormatHumanBytes(done_), kSizeWidth) + " / " +
          PadRight(total_ ? FormatHumanBytes(total_) : "?", kSizeWidth);
  text += "  " + PadRight(rate ? FormatHumanRate(*rate) : "--", kRateWidth);
  text += "  ETA " + PadRight(FormatEta(SecondsLeft()), kEtaWidth);
  return text;
}

std::string ProgressBar::Line(size_t width) const {
  std::string stats = Stats();
  if (width <= stats.size() + 1) return FitText(stats, width);
  size_t room = width - stats.size() - 1;  // for the label and the bar, then a space
  std::string line;
  if (room < kMinBarCells + 2) {
    line = ShortLabel(room);
  } else {
    // The label gives way to the bar's minimum, the bar to the label up to its maximum.
    std::string label = ShortLabel(room - (kMinBarCells + 2) - 1);
    if (!label.empty()) label += " ";
    size_t cells = std::min(room - label.size() - 2, kMaxBarCells);
    std::string bar(cells, ' ');
    if (total_ > 0) {
      auto filled = static_cast<size_t>(static_cast<double>(cells) * *Percent() / 100);
      std::fill_n(bar.begin(), filled, '=');
      if (filled < cells) bar[filled] = '>';
    }
    line = label + "[" + bar + "]";
  }
  return PadRight(line + " " + stats, width);
}

std::string ProgressBar::ShortLabel(size_t room) const {
  if (label_.size() <= room) return label_;
  // A label cut to a few characters says nothing; leave the room to the bar then.
  if (room < kMinShortLabel) return "";
  return FitText(label_, room);
}

std::string ProgressBar::PlainLine() const {
  std::string text = label_ + ": ";
  if (std::optional<int> percent = Percent()) {
    text += std::to_string(*percent) + "% " + FormatHumanBytes(done_) + " of " +
            FormatHumanBytes(total_);
  } else {
    text += FormatHumanBytes(done_);
  }
  if (std::optional<double> rate = rate_.BytesPerSecond()) text += ", " + FormatHumanRate(*rate);
  return text;
}

}  // namespace snapd
