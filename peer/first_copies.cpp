#include "peer/first_copies.hpp"

#include <algorithm>

namespace cascade {

bool FirstCopies::serve(std::uint32_t ip, std::uint64_t block, bool* first_copy, bool* asked_again,
                        bool* ahead, Clock::time_point now, bool ordered) {
  if (first_copy) *first_copy = false;
  if (asked_again) *asked_again = false;
  if (ahead) *ahead = false;
  if (over()) return true;
  std::lock_guard lock(mutex_);
  if (block >= sent_.size()) return true;  // the server refuses it as out of range first
  if (!sent_[block]) {
    if (!ordered) {
      // Not counted either way: the front neither moves nor goes stale for it.
    } else if (in_order_ > 0 && block - front_ >= in_order_) {  // front_ <= block: unsent
      if (!refusing_since_) refusing_since_ = now;
      // A front nobody asks for (its blocks came from elsewhere) stops holding anything back.
      if (now - *refusing_since_ < front_patience) {
        if (told_ahead_.first_ask(ip, block)) {
          if (ahead) *ahead = true;
          return false;
        }
        if (asked_again) *asked_again = true;
      }
    } else {
      refusing_since_.reset();  // the front is asked for
    }
    sent_[block] = true;
    while (front_ < sent_.size() && sent_[front_]) ++front_;
    sent_to_[block] = ip;
    if (first_copy) *first_copy = true;
    if (--unsent_ == 0) {
      over_ = true;
      told_.clear();
      told_ahead_.clear();
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
  if (over()) return;  // the last first copy went out meanwhile: the rule is over for good
  if (block < sent_.size() && sent_[block]) {
    sent_[block] = false;
    ++unsent_;
    front_ = std::min(front_, block);
  }
}

std::string FirstCopies::front_hint() const {
  if (over() || in_order_ == 0) return {};
  std::lock_guard lock(mutex_);
  const std::uint64_t n = sent_.size();
  const std::uint64_t end = std::min(n, front_ + in_order_);
  std::string list;
  for (std::uint64_t b = front_; b < end;) {
    if (sent_[b]) {
      ++b;
      continue;
    }
    std::uint64_t e = b;
    while (e + 1 < end && !sent_[e + 1]) ++e;
    if (!list.empty()) list += ',';
    list += std::to_string(b);
    if (e > b) list += '-' + std::to_string(e);
    b = e + 1;
  }
  if (list.empty()) return {};
  return "; it holds all " + std::to_string(n) +
         " blocks, and no other peer has these blocks: " + list;
}

std::uint64_t FirstCopies::unsent() const {
  std::lock_guard lock(mutex_);
  return unsent_;
}

}  // namespace cascade
