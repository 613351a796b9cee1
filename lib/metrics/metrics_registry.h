// Counters, gauges and histograms kept in memory and rendered in the Prometheus text
// exposition format 0.0.4. Pure: no I/O; every method is safe to call from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace snapd {

// One value per label set; the label values follow the family's label names in order.
using LabelValues = std::vector<std::string>;

class Counter {
 public:
  // Adds `by` (>= 0, else kInvalidInput) to the series of `labels`, creating it at 0 first.
  void Increment(const LabelValues& labels = {}, double by = 1);
  // Makes the series exist (at 0) so it is rendered before its first increment.
  void Touch(const LabelValues& labels = {});
  double Value(const LabelValues& labels = {}) const;

 private:
  friend class MetricsRegistry;
  explicit Counter(size_t label_count) : label_count_(label_count) {}
  size_t label_count_;
  mutable std::mutex mutex_;
  std::map<LabelValues, double> values_;
};

class Gauge {
 public:
  void Set(const LabelValues& labels, double value);
  void Set(double value) { Set({}, value); }
  // Drops every series for whose labels `remove` answers true.
  void RemoveIf(const std::function<bool(const LabelValues&)>& remove);
  // nullopt when the series does not exist.
  std::optional<double> Value(const LabelValues& labels = {}) const;

 private:
  friend class MetricsRegistry;
  explicit Gauge(size_t label_count) : label_count_(label_count) {}
  size_t label_count_;
  mutable std::mutex mutex_;
  std::map<LabelValues, double> values_;
};

class Histogram {
 public:
  // Counts `value` in every bucket whose upper bound is >= it; NaN is ignored.
  void Observe(double value);

  struct Counts {
    std::vector<uint64_t> cumulative;  // one per upper bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0;
  };
  Counts Read() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  friend class MetricsRegistry;
  explicit Histogram(std::vector<double> upper_bounds);
  std::vector<double> upper_bounds_;  // strictly increasing, finite
  mutable std::mutex mutex_;
  std::vector<uint64_t> buckets_;  // not cumulative; the last one is above every bound
  double sum_ = 0;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each Add registers a family rendered in registration order. A name already registered,
  // a name or label name Prometheus would refuse, or (histograms) bounds that are not finite
  // and strictly increasing are kInvalidInput. The returned reference lives as long as the
  // registry.
  Counter& AddCounter(const std::string& name, const std::string& help,
                      std::vector<std::string> label_names = {});
  Gauge& AddGauge(const std::string& name, const std::string& help,
                  std::vector<std::string> label_names = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> upper_bounds);
  // Unlabelled values read at each Render; nullopt leaves the family out of that rendering.
  // `read` runs under no lock of the registry and must be quick (no I/O).
  void AddCounterFunction(const std::string& name, const std::string& help,
                          std::function<std::optional<double>()> read);
  void AddGaugeFunction(const std::string& name, const std::string& help,
                        std::function<std::optional<double>()> read);

  // Text exposition format 0.0.4: HELP and TYPE lines, then each series, label values
  // escaped; series of a family in label order.
  std::string Render() const;

 private:
  struct Family;
  Family& AddFamily(const std::string& name, const std::string& help, const char* type,
                    const std::vector<std::string>& label_names);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family>> families_;
};

// How the text format writes a sample value: the shortest digits that read back exactly, without
// exponent from 1e-4 to 1e21; "+Inf", "-Inf", "NaN".
std::string FormatMetricValue(double value);
// A label value with \, " and newline escaped as the text format requires.
std::string EscapeLabelValue(const std::string& value);

}  // namespace snapd
