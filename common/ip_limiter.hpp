// Counts open connections per remote IPv4 address and refuses those above a limit.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace cascade {

class IpLimiter {
 public:
  explicit IpLimiter(std::size_t per_ip) : per_ip_(per_ip) {}
  // Counts one more connection from `ip`, or returns false if it already has per_ip of them.
  bool try_acquire(std::uint32_t ip) {
    std::lock_guard lock(mutex_);
    std::size_t& n = open_[ip];
    if (n >= per_ip_) return false;
    ++n;
    return true;
  }
  void release(std::uint32_t ip) {
    std::lock_guard lock(mutex_);
    auto it = open_.find(ip);
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }

 private:
  const std::size_t per_ip_;
  std::mutex mutex_;
  std::unordered_map<std::uint32_t, std::size_t> open_;  // guarded by mutex_
};

}  // namespace cascade
