// Admission of incoming connections: a cap on all open connections and one per remote IPv4
// address (0: none). Shared by the tracker and the block server. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace cascade {

class ConnectionLimits {
 public:
  ConnectionLimits(std::size_t max_total, std::size_t max_per_ip)
      : max_total_(max_total), per_ip_(max_per_ip) {}
  // Counts one more connection from `ip`, or returns false (counting nothing) when either cap is
  // reached.
  bool try_admit(std::uint32_t ip) {
    std::lock_guard lock(mutex_);
    if (active_.load() >= max_total_) return false;
    std::size_t& n = open_[ip];
    if (per_ip_ != 0 && n >= per_ip_) return false;
    ++n;
    ++active_;
    return true;
  }
  // Ends one connection counted by try_admit(ip).
  void release(std::uint32_t ip) {
    std::lock_guard lock(mutex_);
    auto it = open_.find(ip);
    if (it == open_.end()) return;
    if (--it->second == 0) open_.erase(it);
    --active_;
  }
  std::size_t active() const { return active_.load(); }
  // New caps (a reloaded configuration): connections open beyond them stay; new ones wait.
  void set_caps(std::size_t max_total, std::size_t max_per_ip) {
    std::lock_guard lock(mutex_);
    max_total_ = max_total;
    per_ip_ = max_per_ip;
  }

 private:
  std::size_t max_total_, per_ip_;  // guarded by mutex_
  std::mutex mutex_;
  std::unordered_map<std::uint32_t, std::size_t> open_;  // guarded by mutex_
  std::atomic<std::size_t> active_{0};                   // written under mutex_, read anywhere
};

}  // namespace cascade
