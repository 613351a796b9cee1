// In-memory Prometheus metric families and their text exposition.
#include "metrics/metrics_registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "core/error.h"

namespace snapd {
namespace {

bool IsNameChar(char c, bool first, bool colon_allowed) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':') return colon_allowed;
  return !first && c >= '0' && c <= '9';
}

void ValidateMetricName(const std::string& name) {
  bool ok = !name.empty();
  for (size_t i = 0; ok && i < name.size(); ++i) ok = IsNameChar(name[i], i == 0, true);
  if (!ok) throw Error::InvalidInput("metric name \"" + name + "\" is not a valid Prometheus name");
}

void ValidateLabelNames(const std::string& metric, const std::vector<std::string>& names) {
  std::set<std::string> seen;
  for (const std::string& label : names) {
    bool ok = !label.empty() && !label.starts_with("__");
    for (size_t i = 0; ok && i < label.size(); ++i) ok = IsNameChar(label[i], i == 0, false);
    if (!ok) {
      throw Error::InvalidInput("label name \"" + label + "\" of metric " + metric +
                                " is not a valid Prometheus label name");
    }
    if (!seen.insert(label).second) {
      throw Error::InvalidInput("metric " + metric + " names label \"" + label + "\" twice");
    }
  }
}

void CheckLabelCount(const LabelValues& labels, size_t want) {
  if (labels.size() != want) {
    throw Error::InvalidInput("metric series has " + std::to_string(labels.size()) +
                              " label values where its family has " + std::to_string(want) +
                              " label names");
  }
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}`, or "" for no labels.
std::string LabelSet(const std::vector<std::string>& names, const LabelValues& values) {
  if (names.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  return out + "}";
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Plain digits where they are readable (timestamps, byte counts), exponents beyond.
  double magnitude = std::fabs(value);
  auto format = magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e21)
                    ? std::chars_format::fixed
                    : std::chars_format::scientific;
  char buffer[128];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, format);
  return std::string(buffer, end);
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Counter::Increment(const LabelValues& labels, double by) {
  CheckLabelCount(labels, label_count_);
  if (!(by >= 0)) throw Error::InvalidInput("a counter cannot be incremented by a negative value");
  std::lock_guard lock(mutex_);
  values_[labels] += by;
}

void Counter::Touch(const LabelValues& labels) {
  CheckLabelCount(labels, label_count_);
  std::lock_guard lock(mutex_);
  values_.try_emplace(labels, 0.0);
}

double Counter::Value(const LabelValues& labels) const {
  std::lock_guard lock(mutex_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Gauge::Set(const LabelValues& labels, double value) {
  CheckLabelCount(labels, label_count_);
  std::lock_guard lock(mutex_);
  values_[labels] = value;
}

void Gauge::RemoveIf(const std::function<bool(const LabelValues&)>& remove) {
  std::lock_guard lock(mutex_);
  std::erase_if(values_, [&](const auto& entry) { return remove(entry.first); });
}

std::optional<double> Gauge::Value(const LabelValues& labels) const {
  std::lock_guard lock(mutex_);
  auto it = values_.find(labels);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), buckets_(upper_bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  size_t bucket = static_cast<size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  std::lock_guard lock(mutex_);
  ++buckets_[bucket];
  sum_ += value;
}

Histogram::Counts Histogram::Read() const {
  std::lock_guard lock(mutex_);
  Counts counts;
  counts.sum = sum_;
  for (uint64_t n : buckets_) {
    counts.count += n;
    counts.cumulative.push_back(counts.count);
  }
  return counts;
}

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  const char* type;
  std::vector<std::string> label_names;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<std::optional<double>()> read;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::AddFamily(const std::string& name,
                                                    const std::string& help, const char* type,
                                                    const std::vector<std::string>& label_names) {
  ValidateMetricName(name);
  ValidateLabelNames(name, label_names);
  for (const auto& family : families_) {
    if (family->name == name)
      throw Error::InvalidInput("metric " + name + " is already registered");
  }
  auto family = std::make_unique<Family>();
  family->name = name;
  family->help = help;
  family->type = type;
  family->label_names = label_names;
  families_.push_back(std::move(family));
  return *families_.back();
}

Counter& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  Family& family = AddFamily(name, help, "counter", label_names);
  family.counter.reset(new Counter(label_names.size()));
  return *family.counter;
}

Gauge& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  Family& family = AddFamily(name, help, "gauge", label_names);
  family.gauge.reset(new Gauge(label_names.size()));
  return *family.gauge;
}

Histogram& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> upper_bounds) {
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
      throw Error::InvalidInput("histogram " + name +
                                " needs finite, strictly increasing bucket bounds");
    }
  }
  std::lock_guard lock(mutex_);
  Family& family = AddFamily(name, help, "histogram", {});
  family.histogram.reset(new Histogram(std::move(upper_bounds)));
  return *family.histogram;
}

void MetricsRegistry::AddCounterFunction(const std::string& name, const std::string& help,
                                         std::function<std::optional<double>()> read) {
  std::lock_guard lock(mutex_);
  AddFamily(name, help, "counter", {}).read = std::move(read);
}

void MetricsRegistry::AddGaugeFunction(const std::string& name, const std::string& help,
                                       std::function<std::optional<double>()> read) {
  std::lock_guard lock(mutex_);
  AddFamily(name, help, "gauge", {}).read = std::move(read);
}

std::string MetricsRegistry::Render() const {
  std::vector<const Family*> families;
  {
    std::lock_guard lock(mutex_);
    for (const auto& family : families_) families.push_back(family.get());
  }
  std::string text;
  for (const Family* family : families) {
    std::string samples;
    if (family->read) {
      std::optional<double> value = family->read();
      if (!value) continue;
      samples = family->name + " " + FormatMetricValue(*value) + "\n";
    } else if (family->histogram) {
      const Histogram& h = *family->histogram;
      Histogram::Counts counts = h.Read();
      for (size_t i = 0; i < counts.cumulative.size(); ++i) {
        std::string le =
            i < h.upper_bounds().size() ? FormatMetricValue(h.upper_bounds()[i]) : "+Inf";
        samples += family->name + "_bucket{le=\"" + le + "\"} " +
                   std::to_string(counts.cumulative[i]) + "\n";
      }
      samples += family->name + "_sum " + FormatMetricValue(counts.sum) + "\n";
      samples += family->name + "_count " + std::to_string(counts.count) + "\n";
    } else {
      std::map<LabelValues, double> values;
      if (family->counter) {
        std::lock_guard lock(family->counter->mutex_);
        values = family->counter->values_;
      } else {
        std::lock_guard lock(family->gauge->mutex_);
        values = family->gauge->values_;
      }
      for (const auto& [labels, value] : values) {
        samples += family->name + LabelSet(family->label_names, labels) + " " +
                   FormatMetricValue(value) + "\n";
      }
    }
    text += "# HELP " + family->name + " " + EscapeHelp(family->help) + "\n";
    text += "# TYPE " + family->name + " " + family->type + "\n";
    text += samples;
  }
  return text;
}

}  // namespace snapd
