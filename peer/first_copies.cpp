#include "peer/first_copies.hpp"

namespace cascade {

bool FirstCopies::serve(std::uint32_t ip, std::uint64_t block) {
  if (over()) return true;
  std::lock_guard lock(mutex_);
  if (block >= sent_.size()) return true;  // the server refuses it as out of range first
  if (!sent_[block]) {
    sent_[block] = true;
    if (--unsent_ == 0) {
      over_ = true;
      told_.clear();
    }
    return true;
  }
  auto it = told_.find(ip);
  if (it == told_.end()) {
    if (told_.size() >= max_addresses) return true;
    it = told_.emplace(ip, std::unordered_set<std::uint64_t>{}).first;
  }
  // Told once already: serve it this time.
  if (it->second.erase(block) > 0) return true;
  it->second.insert(block);
  return false;
}

std::uint64_t FirstCopies::unsent() const {
  std::lock_guard lock(mutex_);
  return unsent_;
}

}  // namespace cascade
