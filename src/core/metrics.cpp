#include "sc/core/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace sc::metrics {

void Gauge::add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double v) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v: "le"
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

struct Registry::Family {
  std::string help;
  Type type;
  std::vector<double> bounds;  // histograms
  // Keyed by the rendered label set, so one label set is one series.
  std::map<std::string, std::unique_ptr<Counter>> counters;
  std::map<std::string, std::unique_ptr<Gauge>> gauges;
  std::map<std::string, std::unique_ptr<Histogram>> histograms;
};

namespace {

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string escape_help(const std::string& h) {
  std::string out;
  for (char c : h) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// `a="x",b="y"` without braces, so a histogram can append its `le`.
std::string label_body(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!valid_name(k) || k == "le" || k.rfind("__", 0) == 0)
      throw std::logic_error("bad metric label name: " + k);
    if (!out.empty()) out += ',';
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  return out;
}

std::string braces(const std::string& body) {
  return body.empty() ? std::string() : "{" + body + "}";
}

const char* type_name(int t) {
  switch (t) {
    case 0:
      return "counter";
    case 1:
      return "gauge";
    default:
      return "histogram";
  }
}

}  // namespace

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family(const std::string& name, const std::string& help, Type type) {
  if (!valid_name(name)) throw std::logic_error("bad metric name: " + name);
  auto& f = families_[name];
  if (!f) {
    f = std::make_unique<Family>();
    f->help = help;
    f->type = type;
  } else if (f->type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return *f;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  auto key = label_body(labels);
  std::lock_guard lk(mu_);
  auto& slot = family(name, help, Type::kCounter).counters[key];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  auto key = label_body(labels);
  std::lock_guard lk(mu_);
  auto& slot = family(name, help, Type::kGauge).gauges[key];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::vector<double>& bounds, const Labels& labels) {
  auto key = label_body(labels);
  std::lock_guard lk(mu_);
  auto& f = family(name, help, Type::kHistogram);
  if (f.histograms.empty()) f.bounds = bounds;
  auto& slot = f.histograms[key];
  if (!slot) slot = std::make_unique<Histogram>(f.bounds);
  return *slot;
}

void Registry::add_collector(std::function<void(Collector&)> fn) {
  std::lock_guard lk(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::render() const {
  // Scrape-time gauges, grouped by family like the stored ones.
  struct Scraped {
    std::string help;
    std::map<std::string, double> series;
  };
  std::map<std::string, Scraped> scraped;
  struct Sink final : Collector {
    std::map<std::string, Scraped>& out;
    explicit Sink(std::map<std::string, Scraped>& o) : out(o) {}
    void gauge(const std::string& name, const std::string& help, const Labels& labels,
               double value) override {
      if (!valid_name(name)) throw std::logic_error("bad metric name: " + name);
      auto& s = out[name];
      if (s.help.empty()) s.help = help;
      s.series[label_body(labels)] = value;
    }
  };
  std::vector<std::function<void(Collector&)>> collectors;
  {
    std::lock_guard lk(mu_);
    collectors = collectors_;
  }
  Sink sink(scraped);
  for (const auto& c : collectors) c(sink);

  std::string out;
  std::lock_guard lk(mu_);
  auto header = [&](const std::string& name, const std::string& help, int type) {
    out += "# HELP " + name + " " + escape_help(help) + "\n";
    out += "# TYPE " + name + " " + type_name(type) + "\n";
  };
  // Merge the two sorted sources so the output is sorted by family name.
  auto fit = families_.begin();
  auto sit = scraped.begin();
  while (fit != families_.end() || sit != scraped.end()) {
    const bool take_stored =
        sit == scraped.end() || (fit != families_.end() && fit->first <= sit->first);
    if (take_stored) {
      const auto& name = fit->first;
      const auto& f = *fit->second;
      const bool has_scraped = sit != scraped.end() && sit->first == name;
      header(name, f.help, static_cast<int>(f.type));
      for (const auto& [k, c] : f.counters)
        out += name + braces(k) + " " + std::to_string(c->value()) + "\n";
      for (const auto& [k, g] : f.gauges) {
        if (has_scraped && sit->second.series.count(k) != 0)
          continue;  // the scrape-time value wins
        out += name + braces(k) + " " + format_value(g->value()) + "\n";
      }
      if (has_scraped && f.type == Type::kGauge) {
        for (const auto& [k, v] : sit->second.series)
          out += name + braces(k) + " " + format_value(v) + "\n";
        ++sit;
      }
      for (const auto& [k, h] : f.histograms) {
        const auto s = h->snapshot();
        const auto sep = k.empty() ? std::string() : k + ",";
        for (std::size_t i = 0; i < s.bounds.size(); ++i) {
          out += name + "_bucket{" + sep + "le=\"" + format_value(s.bounds[i]) + "\"} " +
                 std::to_string(s.cumulative[i]) + "\n";
        }
        out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(s.count) + "\n";
        out += name + "_sum" + braces(k) + " " + format_value(s.sum) + "\n";
        out += name + "_count" + braces(k) + " " + std::to_string(s.count) + "\n";
      }
      ++fit;
    } else {
      header(sit->first, sit->second.help, static_cast<int>(Type::kGauge));
      for (const auto& [k, v] : sit->second.series)
        out += sit->first + braces(k) + " " + format_value(v) + "\n";
      ++sit;
    }
  }
  return out;
}

}  // namespace sc::metrics
