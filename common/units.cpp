#include "common/units.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>

namespace cascade {

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string suffix;
  for (const char* p = end; p != text.data() + text.size(); ++p)
    suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
  int shift = 0;
  if (suffix.empty() || suffix == "b")
    shift = 0;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib")
    shift = 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib")
    shift = 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib")
    shift = 30;
  else
    return std::nullopt;
  if (value > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string format_size_exact(std::uint64_t bytes) {
  static constexpr const char* units[] = {"", "KiB", "MiB", "GiB"};
  int u = 0;
  while (u < 3 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + units[u];
}

std::optional<std::uint64_t> parse_rate(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data() || !(value >= 0)) return std::nullopt;
  std::string unit;
  for (const char* p = end; p != text.data() + text.size(); ++p)
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
  if (unit.size() >= 2 && unit.ends_with("/s")) unit.resize(unit.size() - 2);
  // "B" is bytes; a lowercase "b" ("b", "kb", "Mb") could be bits or bytes, so it is refused.
  const std::string_view written(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (!unit.empty() && unit.back() == 'b' && written.find("b") != std::string_view::npos &&
      written.find("bit") == std::string_view::npos)
    return std::nullopt;
  if (unit == "b") unit.clear();
  static const std::pair<const char*, double> units[] = {
      {"", 1},           {"kb", 1e3},        {"mb", 1e6},           {"gb", 1e9},
      {"kib", 1024.0},   {"mib", 1048576.0}, {"gib", 1073741824.0}, {"bit", 1 / 8.0},
      {"kbit", 1e3 / 8}, {"mbit", 1e6 / 8},  {"gbit", 1e9 / 8}};
  for (const auto& [name, scale] : units) {
    if (unit != name) continue;
    const double bytes = value * scale;
    // Too large, or so small it would round to 0, which means unlimited.
    if (bytes >= 1.8e19 || (value > 0 && bytes < 0.5)) return std::nullopt;
    return static_cast<std::uint64_t>(bytes + 0.5);
  }
  return std::nullopt;
}

std::optional<double> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total = 0;
  const char* p = text.data();
  const char* const end = text.data() + text.size();
  while (p != end) {
    double value = 0;
    auto [after, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || after == p || !(value >= 0)) return std::nullopt;
    p = after;
    double scale = 1;
    if (p != end) {
      switch (*p) {
        case 's':
          scale = 1;
          break;
        case 'm':
          scale = 60;
          break;
        case 'h':
          scale = 3600;
          break;
        case 'd':
          scale = 86400;
          break;
        default:
          return std::nullopt;
      }
      ++p;
    } else if (total > 0) {
      return std::nullopt;  // "1h30": a bare number only alone
    }
    total += value * scale;
  }
  if (total > 100.0 * 365 * 86400) return std::nullopt;
  return total;
}

}  // namespace cascade
