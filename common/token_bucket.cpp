#include "common/token_bucket.hpp"

#include <algorithm>

namespace cascade {

TokenBucket::TokenBucket(std::uint64_t rate, std::uint64_t burst)
    : rate_(rate),
      burst_(static_cast<double>(burst ? burst : std::max<std::uint64_t>(rate / 10, 64 << 10))),
      tokens_(burst_) {}

TokenBucket::Clock::duration TokenBucket::take(std::uint64_t bytes, Clock::time_point now) {
  if (rate_ == 0) return Clock::duration::zero();
  std::lock_guard lock(mutex_);
  if (started_ && now > last_)
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() *
                                             static_cast<double>(rate_));
  if (!started_ || now > last_) last_ = now;
  started_ = true;
  tokens_ -= static_cast<double>(bytes);
  if (tokens_ >= 0) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(-tokens_ / static_cast<double>(rate_)));
}

}  // namespace cascade
