#include "peer/asked_once.hpp"

namespace cascade {

bool AskedOnce::first_ask(std::uint32_t ip, std::uint64_t block) {
  auto it = told_.find(ip);
  if (it != told_.end() && it->second.erase(block) > 0) {
    --count_;
    if (it->second.empty()) told_.erase(it);
    return false;
  }
  if (count_ >= max_remembered) clear();
  told_[ip].insert(block);
  ++count_;
  return true;
}

}  // namespace cascade
