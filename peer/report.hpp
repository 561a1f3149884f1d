// What a running peer reports: a progress display (one live line per file on a terminal, else a
// log line per file at most once a second) and the statistics file (--stats-json).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "peer/shared_file.hpp"

namespace cascade {

class Progress {
 public:
  Progress(const std::vector<std::shared_ptr<SharedFile>>& files, bool quiet);
  // Prints the files' state now; `final` ends the live display.
  void tick(bool final = false);
  bool tty() const { return tty_; }

 private:
  const std::vector<std::shared_ptr<SharedFile>>& files_;
  bool tty_, quiet_;
  std::vector<std::uint64_t> last_;
  std::set<std::size_t> reported_complete_;
  net::Clock::time_point last_time_;
};

// Writes the per-file statistics as JSON to `path` (replacing it whole); a failure is a warning.
void write_stats(const std::string& path, const std::vector<std::shared_ptr<SharedFile>>& files,
                 double seconds);

// The last part of a path.
std::string short_name(const std::string& path);

}  // namespace cascade
