#include "peer/first_copies.hpp"

namespace cascade {

bool FirstCopies::serve(std::uint32_t ip, std::uint64_t block, bool* first_copy,
                        bool* asked_again) {
  if (first_copy) *first_copy = false;
  if (asked_again) *asked_again = false;
  if (over()) return true;
  std::lock_guard lock(mutex_);
  if (block >= sent_.size()) return true;  // the server refuses it as out of range first
  if (!sent_[block]) {
    sent_[block] = true;
    sent_to_[block] = ip;
    if (first_copy) *first_copy = true;
    if (--unsent_ == 0) {
      over_ = true;
      told_.clear();
    }
    return true;
  }
  if (sent_to_[block] == ip) return true;
  if (told_.first_ask(ip, block)) return false;
  if (asked_again) *asked_again = true;  // told once already: served this time
  return true;
}

void FirstCopies::not_sent(std::uint64_t block) {
  if (over()) return;
  std::lock_guard lock(mutex_);
  if (block < sent_.size() && sent_[block]) {
    sent_[block] = false;
    ++unsent_;
  }
}

std::uint64_t FirstCopies::unsent() const {
  std::lock_guard lock(mutex_);
  return unsent_;
}

}  // namespace cascade
