#include "common/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/version.hpp"

namespace cascade::metrics {

namespace {
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 9e18)  // counters and counts: plain integers
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  else
    std::snprintf(buf, sizeof buf, "%.15g", v);  // 0.00025, not 2.5e-04
  return buf;
}

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD: the
// exposition format is UTF-8, and a file name need not be.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xE  ? 3
                      : (c >> 3) == 0x1E ? 4
                                         : 0;
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;  // no overlong
    if (ok && len == 3) ok = !(c == 0xE0 && p[i + 1] < 0xA0) && !(c == 0xED && p[i + 1] >= 0xA0);
    if (ok && len == 4)
      ok = c <= 0xF4 && !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] >= 0x90);
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

void escape_into(std::string& out, std::string_view raw, bool help) {
  const std::string value = valid_utf8(raw);
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

void write_process(Writer& w, const std::string& prefix, const std::string& who, double start_time,
                   double uptime) {
  w.family(prefix + "_build_info", "gauge", "The running version (always 1).");
  w.sample(prefix + "_build_info", 1, {{"version", version()}});
  w.family(prefix + "_start_time_seconds", "gauge", "When " + who + " started, Unix time.");
  w.sample(prefix + "_start_time_seconds", start_time);
  w.family(prefix + "_uptime_seconds", "gauge", "Seconds since " + who + " started.");
  w.sample(prefix + "_uptime_seconds", uptime);
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
