#include "peer/asked_once.hpp"

namespace cascade {

bool AskedOnce::forget(Told& told, std::uint32_t ip, std::uint64_t block) {
  auto it = told.find(ip);
  if (it == told.end() || it->second.erase(block) == 0) return false;
  if (it->second.empty()) told.erase(it);
  --count_;
  return true;
}

void AskedOnce::age(Clock::time_point now) {
  if (keep_ == Clock::duration::zero() || now - turned_ < keep_) return;
  count_ -= previous_count_;
  if (now - turned_ >= 2 * keep_) {  // both generations are old
    current_.clear();
    count_ = 0;
  }
  previous_ = std::move(current_);
  previous_count_ = count_;
  current_.clear();
  turned_ = now;
}

bool AskedOnce::first_ask(std::uint32_t ip, std::uint64_t block, Clock::time_point now) {
  age(now);
  if (forget(current_, ip, block)) return false;
  if (forget(previous_, ip, block)) {
    --previous_count_;
    return false;
  }
  if (count_ >= max_remembered) clear();
  current_[ip].insert(block);
  ++count_;
  return true;
}

}  // namespace cascade
