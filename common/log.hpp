// Levelled logging to stderr: one line per call, written with a single write so lines from
// different threads never interleave. Thread-safe.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace cascade::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level level);
Level level();
std::optional<Level> parse_level(std::string_view name);
// Prefix every line with this program name (e.g. "tracker").
void set_program(std::string_view name);
void write(Level level, std::string_view message);

namespace detail {
template <class... Args>
void emit(Level lvl, const Args&... args) {
  if (lvl < level()) return;
  std::ostringstream s;
  (s << ... << args);
  write(lvl, s.str());
}
}  // namespace detail

template <class... Args>
void debug(const Args&... a) {
  detail::emit(Level::debug, a...);
}
template <class... Args>
void info(const Args&... a) {
  detail::emit(Level::info, a...);
}
template <class... Args>
void warn(const Args&... a) {
  detail::emit(Level::warn, a...);
}
template <class... Args>
void error(const Args&... a) {
  detail::emit(Level::error, a...);
}

}  // namespace cascade::log
