// Metrics in the Prometheus text exposition format (version 0.0.4): a writer for families and
// samples, and a lock-free latency histogram. Pure: no I/O; the HTTP side serves the text.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cascade::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Builds one exposition: declare a family (HELP and TYPE), then its samples. Label values are
// escaped as the format requires (backslash, double quote, newline).
class Writer {
 public:
  // type: "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, double value, const Labels& labels = {});
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// A histogram of durations in seconds, with fixed buckets from 100 µs to 10 s. observe() is
// wait-free; a reader sees every bucket at least as full as the count it reports.
class Histogram {
 public:
  static constexpr std::array<double, 14> bounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10};
  void observe(double seconds);

  struct Snapshot {
    std::array<std::uint64_t, bounds.size() + 1> buckets{};  // not cumulative; last: above all
    double sum = 0;
    std::uint64_t count() const;
  };
  Snapshot snapshot() const;

 private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// The three families every program exposes: PREFIX_build_info{version}, PREFIX_start_time_seconds
// and PREFIX_uptime_seconds ("the tracker", "the peer": `who`).
void write_process(Writer& w, const std::string& prefix, const std::string& who, double start_time,
                   double uptime);

// Writes `h` as family `name` (the _bucket, _sum and _count samples).
void write_histogram(Writer& w, std::string_view name, std::string_view help,
                     const Histogram::Snapshot& h);

}  // namespace cascade::metrics
