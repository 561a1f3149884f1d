// A process-wide rate limit: a token bucket of `rate` bytes per second that holds at most
// `burst` bytes. Senders take what they are about to send and wait the time they are told; the
// bucket may go into debt, so many connections sharing it get the rate between them, in the
// order they asked. Pure: the clock is passed in. Thread-safe (one mutex, a few instructions).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace cascade {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  // rate 0: unlimited. burst 0: a tenth of a second's worth, at least 64 KiB.
  explicit TokenBucket(std::uint64_t rate, std::uint64_t burst = 0);

  bool unlimited() const { return rate_ == 0; }
  std::uint64_t rate() const { return rate_; }
  // Takes `bytes`; returns how long to wait before sending them (zero if the bucket held them).
  Clock::duration take(std::uint64_t bytes, Clock::time_point now);

 private:
  const std::uint64_t rate_;
  const double burst_;
  std::mutex mutex_;
  double tokens_;             // guarded by mutex_; negative: debt
  Clock::time_point last_{};  // guarded by mutex_
  bool started_ = false;      // guarded by mutex_
};

}  // namespace cascade
