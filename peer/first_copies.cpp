#include "peer/first_copies.hpp"

#include <algorithm>

#include "peer/holdings_hint.hpp"

namespace cascade {

FirstCopies::Answer FirstCopies::serve(std::uint32_t ip, std::uint64_t block, Clock::time_point now,
                                       bool ordered) {
  Answer answer;
  if (over()) return answer;
  std::lock_guard lock(mutex_);
  if (block >= sent_.size()) return answer;  // the server refuses it as out of range first
  if (!sent_[block]) {
    if (!ordered) {
      // Not counted either way: the front neither moves nor goes stale for it.
    } else if (in_order_ > 0 && block - front_ >= in_order_) {  // front_ <= block: unsent
      if (!refusing_since_) refusing_since_ = now;
      // A front nobody asks for (its blocks came from elsewhere) stops holding anything back.
      if (now - *refusing_since_ < front_patience) {
        if (told_ahead_.first_ask(ip, block)) return refuse(true);
        answer.asked_again = true;
      }
    } else {
      refusing_since_.reset();  // the front is asked for
    }
    sent_[block] = true;
    while (front_ < sent_.size() && sent_[front_]) ++front_;
    sent_to_[block] = ip;
    answer.first_copy = true;
    if (--unsent_ == 0) {
      over_ = true;
      told_.clear();
      told_ahead_.clear();
    }
    return answer;
  }
  if (sent_to_[block] == ip) return answer;
  if (told_.first_ask(ip, block)) return refuse(false);
  answer.asked_again = true;  // told once already: served this time
  return answer;
}

FirstCopies::Answer FirstCopies::refuse(bool ahead) const {
  Answer answer;
  answer.send = false;
  answer.ahead = ahead;
  if (in_order_ > 0) answer.hint = unsent_hint(sent_, front_, front_ + in_order_);
  return answer;
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

std::uint64_t FirstCopies::unsent() const {
  std::lock_guard lock(mutex_);
  return unsent_;
}

}  // namespace cascade
