// The "ask elsewhere, and if you ask again you are served" memory of a serving rule: which
// (address, block) pairs were told to look elsewhere once already. Two rules use it: a seed's
// first copies (FirstCopies) and a busy uploader (BlockServer). Either only ever gives a hint:
// the same address asking again for the same block is served, so a client that cannot find the
// block elsewhere, or another implementation that retries at once, is never sent in circles.
//
// Memory is bounded whatever the swarm: past max_remembered pairs it starts over (some address
// may then be told twice). Not thread-safe: its owner locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>

namespace cascade {

class AskedOnce {
 public:
  static constexpr std::size_t max_remembered = 1 << 20;

  // True the first time `ip` asks for `block` (now remembered); false when it asks again (and
  // it is forgotten, so a third ask is a first again).
  bool first_ask(std::uint32_t ip, std::uint64_t block);
  void clear() {
    told_.clear();
    count_ = 0;
  }
  std::size_t size() const { return count_; }

 private:
  std::unordered_map<std::uint32_t, std::unordered_set<std::uint64_t>> told_;
  std::size_t count_ = 0;
};

}  // namespace cascade
