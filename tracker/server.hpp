// The tracker daemon's network side: accept, read one request, answer, close.
//
// Threads: one io_context served by `threads` threads; each connection is a coroutine on its own
// strand. Registry calls are short and take the registry's mutex. Asio stays out of this header.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics.hpp"
#include "tracker/config.hpp"

namespace cascade {

// What went wrong with requests, by kind (the stats line, metrics and status pages name them).
enum TrackerErrorKind { bad_header, not_tracked, refused, full, timed_out, io_error, error_kinds };
inline constexpr std::array<const char*, error_kinds> tracker_error_names = {
    "bad_header", "not_tracked", "refused", "full", "timeout", "io_error"};
// Requests by command: a request whose header did not decode has none.
enum TrackerCommandKind { command_list, command_subscribe, command_invalid, command_kinds };
inline constexpr std::array<const char*, command_kinds> tracker_command_names = {
    "list", "subscribe", "invalid"};

// One consistent reading of a running tracker, for its metrics and status pages.
struct TrackerSnapshot {
  double uptime_seconds = 0, start_time_seconds = 0;  // start: Unix time
  bool open = true;
  std::size_t allowed_hashes = 0;
  std::array<std::array<std::uint64_t, 2>, command_kinds> requests{};  // [command][0 error, 1 ok]
  std::array<std::uint64_t, error_kinds> errors{};
  std::uint64_t rejected_connections = 0, reloads_ok = 0, reloads_failed = 0;
  std::size_t connections = 0, swarms = 0, peers = 0;
  double requests_per_second = 0;             // over the last 10 s (whole seconds)
  std::vector<Registry::SwarmCount> largest;  // the largest swarms, at most max_listed
  metrics::Histogram::Snapshot latency;       // connection accepted to answer sent
  static constexpr std::size_t max_listed = 1000;
  std::uint64_t total_requests() const;
};

class TrackerServer {
 public:
  struct Options {
    std::size_t threads = 0;              // 0: one per core
    std::uint64_t stats_interval_s = 60;  // 0: no periodic stats line
    // Called on SIGHUP for the configuration to put in force; throws ConfigError (the old one
    // stays). Null: SIGHUP is ignored.
    std::function<TrackerConfig()> reload;
  };
  TrackerServer(TrackerConfig config, Options options);
  ~TrackerServer();

  // Binds the listening socket (throws std::system_error on failure); returns the bound port.
  std::uint16_t bind();
  // Serves until a stop is requested (SIGINT/SIGTERM or stop()); in-flight requests finish.
  void run();
  // Thread-safe.
  void stop();
  // Thread-safe; never waits for a request in progress.
  TrackerSnapshot snapshot() const;
  // Puts `config` in force for requests that start from now on (thread-safe): swarms no longer
  // tracked are dropped, the others keep their peers. A different port or bind address is
  // logged as needing a restart. Returns what changed, for the log.
  std::string apply(TrackerConfig config);

 private:
  struct Impl;
  static std::string apply_to(Impl& m, TrackerConfig next);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cascade
