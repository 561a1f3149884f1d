// The "ask elsewhere, and if you ask again you are served" memory of a serving rule: which
// (address, block) pairs were told to look elsewhere once already. Two rules use it: a seed's
// first copies (FirstCopies) and a busy uploader (BlockServer). Either only ever gives a hint:
// the same address asking again for the same block is served, so a client that cannot find the
// block elsewhere, or another implementation that retries, gets it on its next ask (several
// clients behind one address share one memory, so one of them may be told again).
//
// Memory is bounded whatever the swarm: past max_remembered pairs it starts over; and with a
// `keep` time, what was told longer ago than about that is forgotten (two generations, the older
// dropped every `keep`), so a rule that lasts never fills it with askers that went elsewhere.
// Not thread-safe: its owner locks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>

namespace cascade {

class AskedOnce {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t max_remembered = 1 << 20;

  // keep: zero remembers until asked again (or the cap); else between keep and twice keep.
  explicit AskedOnce(Clock::duration keep = Clock::duration::zero()) : keep_(keep) {}

  // True the first time `ip` asks for `block` (now remembered); false when it asks again (and
  // it is forgotten, so a third ask is a first again). `now` matters only with a `keep` time.
  bool first_ask(std::uint32_t ip, std::uint64_t block, Clock::time_point now = {});
  void clear() {
    current_.clear();
    previous_.clear();
    count_ = previous_count_ = 0;
  }
  std::size_t size() const { return count_; }

 private:
  using Told = std::unordered_map<std::uint32_t, std::unordered_set<std::uint64_t>>;
  bool forget(Told& told, std::uint32_t ip, std::uint64_t block);
  void age(Clock::time_point now);

  const Clock::duration keep_;
  Told current_, previous_;
  std::size_t count_ = 0;           // pairs in both
  std::size_t previous_count_ = 0;  // pairs in previous_
  Clock::time_point turned_{};      // when current_ began
};

}  // namespace cascade
