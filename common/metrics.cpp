#include "common/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace cascade::metrics {

namespace {
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Integers print exactly (counters of bytes pass 2^53 only after 9 PB); others shortest.
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

void escape_into(std::string& out, std::string_view value, bool help) {
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && !help)
      out += "\\\"";
    else
      out += c;
  }
}
}  // namespace

void Writer::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  escape_into(out_, help, true);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Writer::sample(std::string_view name, double value, const Labels& labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      escape_into(out_, labels[i].second, false);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void Histogram::observe(double seconds) {
  seconds = std::max(0.0, seconds);
  const auto it = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  buckets_[static_cast<std::size_t>(it - bounds.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

std::uint64_t Histogram::Snapshot::count() const {
  std::uint64_t n = 0;
  for (auto b : buckets) n += b;
  return n;
}

void write_histogram(Writer& w, std::string_view name, std::string_view help,
                     const Histogram::Snapshot& h) {
  const std::string n(name);
  w.family(n, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < Histogram::bounds.size(); ++i) {
    cumulative += h.buckets[i];
    w.sample(n + "_bucket", static_cast<double>(cumulative),
             {{"le", format_value(Histogram::bounds[i])}});
  }
  cumulative += h.buckets.back();
  w.sample(n + "_bucket", static_cast<double>(cumulative), {{"le", "+Inf"}});
  w.sample(n + "_sum", h.sum);
  w.sample(n + "_count", static_cast<double>(cumulative));
}

}  // namespace cascade::metrics
