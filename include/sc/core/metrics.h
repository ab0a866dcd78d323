// Metrics: counters, gauges and histograms with labels, rendered in the
// Prometheus text exposition format (version 0.0.4). Standard library only,
// so every module can count without depending on an exporter.
//
// Hot paths look a series up once and keep the reference (series live as
// long as the registry); updates are lock-free atomics.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sc::metrics {

// Label name -> value; names follow Prometheus rules ([a-zA-Z_][a-zA-Z0-9_]*).
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Cumulative buckets by upper bound (seconds, sizes, …); +Inf is implied.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]>
      counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0};
};

// Buckets for request and send latencies, in seconds.
std::vector<double> latency_buckets();

// Samples computed at scrape time (outbox depth, paused providers, …).
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void gauge(const std::string& name, const std::string& help, const Labels& labels,
                     double value) = 0;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the series for these labels, creating it (and its family) on
  // first use. The same name must keep one type and one help text; a
  // mismatch throws std::logic_error (a programming error).
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& bounds, const Labels& labels = {});

  // Runs at every render; its gauges appear beside the stored ones.
  void add_collector(std::function<void(Collector&)> fn);

  // The whole registry in text format 0.0.4, families sorted by name.
  std::string render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family;
  Family& family(const std::string& name, const std::string& help, Type type);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::vector<std::function<void(Collector&)>> collectors_;
};

// Text-format helpers, exposed for tests.
std::string escape_label_value(const std::string& v);
std::string format_value(double v);

}  // namespace sc::metrics
