#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

namespace cascade::log {

namespace {
std::atomic<Level> g_level{Level::info};
std::mutex g_program_mutex;
std::string g_program = "cascade";  // guarded by g_program_mutex

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
    case Level::off:
      return "off";
  }
  return "?";
}
}  // namespace

void set_level(Level level) {
  g_level.store(level);
}
Level level() {
  return g_level.load(std::memory_order_relaxed);
}

std::optional<Level> parse_level(std::string_view name) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error, Level::off})
    if (name == level_name(l)) return l;
  return std::nullopt;
}

void set_program(std::string_view name) {
  std::lock_guard lock(g_program_mutex);
  g_program = name;
}

void write(Level lvl, std::string_view message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  std::string line;
  {
    std::lock_guard lock(g_program_mutex);
    line = std::string(stamp) + ' ' + g_program + ' ' + level_name(lvl) + ": ";
  }
  line.append(message);
  line += '\n';
  // One write(2) per line: atomic for lines below PIPE_BUF, so threads never interleave.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace cascade::log
