// The tracker daemon's network side: accept, read one request, answer, close.
//
// Threads: one io_context served by `threads` threads; each connection is a coroutine on its own
// strand. Registry calls are short and take the registry's mutex. Asio stays out of this header.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "tracker/config.hpp"

namespace cascade {

class TrackerServer {
 public:
  struct Options {
    std::size_t threads = 0;              // 0: one per core
    std::uint64_t stats_interval_s = 60;  // 0: no periodic stats line
  };
  TrackerServer(TrackerConfig config, Options options);
  ~TrackerServer();

  // Binds the listening socket (throws std::system_error on failure); returns the bound port.
  std::uint16_t bind();
  // Serves until a stop is requested (SIGINT/SIGTERM or stop()); in-flight requests finish.
  void run();
  // Thread-safe.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cascade
