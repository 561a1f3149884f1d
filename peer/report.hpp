// What a running peer reports: a progress display (one live line per file on a terminal, else a
// log line per file at most once a second) and the statistics file (--stats-json).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "peer/shared_file.hpp"

namespace cascade {

class Progress {
 public:
  explicit Progress(bool quiet);
  // Prints the state of `files` now (the set may change between ticks: a shared directory);
  // `final` ends the live display.
  void tick(const std::vector<std::shared_ptr<SharedFile>>& files, bool final = false);
  bool tty() const { return tty_; }

 private:
  bool tty_, quiet_;
  std::map<std::string, std::uint64_t> last_;  // bytes downloaded at the last tick, by cascade path
  std::set<std::string> reported_complete_;    // by cascade path
  net::Clock::time_point last_time_;
};

// Writes the per-file statistics as JSON to `path` (replacing it whole); a failure is a warning.
void write_stats(const std::string& path, const std::vector<std::shared_ptr<SharedFile>>& files,
                 double seconds);

// The last part of a path.
std::string short_name(const std::string& path);

}  // namespace cascade
