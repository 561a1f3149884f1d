// What one fetch connection holds: the blocks it asked for and has no answer to yet, and the
// blocks it received that are still being verified. One record per connection, kept on the
// connection's strand until each block's verdict comes back; the picker reads it as data
// (BlockMap::pick), so a connection never asks for a block it already holds, in endgame too.
//
// Thread-safety: none; one connection (one strand) owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_set>
#include <vector>

namespace cascade {

using BlockSet = std::unordered_set<std::uint64_t>;

class InFlight {
 public:
  // Asked for `block`; answers come in the order of the requests.
  void requested(std::uint64_t block) {
    order_.push_back(block);
    held_.insert(block);
  }
  bool waiting() const { return !order_.empty(); }
  std::size_t outstanding() const { return order_.size(); }
  // The block the next answer is for. Only while waiting().
  std::uint64_t oldest() const { return order_.front(); }
  // The next answer carried its block: it now awaits its verdict.
  void received() {
    order_.pop_front();
    ++checking_;
  }
  // The next answer was an error status: the block is no longer held here.
  void refused() {
    held_.erase(order_.front());
    order_.pop_front();
  }
  // The verdict for a received block came back.
  void verdict(std::uint64_t block) {
    held_.erase(block);
    --checking_;
  }
  std::size_t checking() const { return checking_; }
  // Requested or received: never to be asked for again on this connection.
  const BlockSet& blocks() const { return held_; }
  // The connection ends: the requests never answered, which return to the block map.
  std::vector<std::uint64_t> abandon() {
    std::vector<std::uint64_t> out(order_.begin(), order_.end());
    for (std::uint64_t b : order_) held_.erase(b);
    order_.clear();
    return out;
  }

 private:
  std::deque<std::uint64_t> order_;  // requested, unanswered, oldest first
  BlockSet held_;                    // order_ and the blocks being verified
  std::size_t checking_ = 0;         // received, verdict pending
};

}  // namespace cascade
