#include "peer/block_map.hpp"

#include <algorithm>
#include <stdexcept>

#include "peer/holdings_hint.hpp"

namespace cascade {

void BlockMap::IndexedSet::insert(std::uint64_t b) {
  if (pos[b] != npos) return;
  pos[b] = items.size();
  items.push_back(b);
}

void BlockMap::IndexedSet::erase(std::uint64_t b) {
  if (pos[b] == npos) return;
  const std::uint64_t at = pos[b];
  items[at] = items.back();
  pos[items[at]] = at;
  items.pop_back();
  pos[b] = npos;
}

BlockMap::BlockMap(std::uint64_t count)
    : count_(count),
      verified_(count, false),
      writing_(count, false),
      in_flight_(count, 0),
      available_(count),
      missing_(count) {
  for (std::uint64_t b = 0; b < count; ++b) {
    available_.insert(b);
    missing_.insert(b);
  }
}

void BlockMap::set_window(std::uint64_t blocks) {
  std::lock_guard lock(mutex_);
  window_ = blocks;
}

void BlockMap::set_in_order(bool in_order) {
  std::lock_guard lock(mutex_);
  in_order_ = in_order;
}

std::unique_ptr<BlockMap> BlockMap::from_string(std::string_view blocks) {
  auto p = std::make_unique<BlockMap>(blocks.size());
  BlockMap& m = *p;
  for (std::uint64_t b = 0; b < blocks.size(); ++b) {
    if (blocks[b] == 'V')
      m.set_verified(b);
    else if (blocks[b] == '?') {
      m.available_.erase(b);
      m.in_flight_[b] = 1;
    } else if (blocks[b] != '.')
      throw std::invalid_argument("block map fixture: use V, . or ?");
  }
  return p;
}

std::string BlockMap::to_string() const {
  std::lock_guard lock(mutex_);
  std::string s;
  for (std::uint64_t b = 0; b < count_; ++b) s += verified_[b] ? 'V' : in_flight_[b] ? '?' : '.';
  return s;
}

std::optional<std::uint64_t> BlockMap::pick(std::mt19937_64& rng, const PickExclusions& exclude,
                                            unsigned max_duplicates) {
  // Random probes before the scan: cheap while most candidates are eligible.
  constexpr int probes = 16;
  std::lock_guard lock(mutex_);
  // Among n candidates (the i-th is at(i)): a few random probes, then one pass from a random
  // start. Random order, bounded cost. `lowest`: the first eligible instead (candidates in
  // ascending order).
  auto choose = [&](std::uint64_t n, auto&& at, auto&& eligible,
                    bool lowest = false) -> std::optional<std::uint64_t> {
    if (n == 0) return std::nullopt;
    if (lowest) {
      for (std::uint64_t i = 0; i < n; ++i)
        if (const std::uint64_t b = at(i); eligible(b)) return b;
      return std::nullopt;
    }
    for (int probe = 0; probe < probes; ++probe)
      if (const std::uint64_t b = at(rng() % n); eligible(b)) return b;
    const std::uint64_t start = rng() % n;
    for (std::uint64_t k = 0; k < n; ++k)
      if (const std::uint64_t b = at((start + k) % n); eligible(b)) return b;
    return std::nullopt;
  };
  auto in = [](const IndexedSet& set) { return [&set](std::uint64_t i) { return set.items[i]; }; };
  std::optional<std::uint64_t> picked;
  if (exclude.peer_holds != nullptr && !exclude.peer_holds->empty()) {
    // What the peer holds first. The hint can list far more than anyone needs: the look at it is
    // bounded, and a miss falls through to the usual pick.
    const std::vector<std::uint64_t>& holds = *exclude.peer_holds;
    constexpr std::uint64_t most_looked_at = max_hinted_blocks;
    const bool endgame = available_.items.empty();
    auto wanted = [&](std::uint64_t b) {
      if (b >= count_ || exclude.contains(b)) return false;
      return endgame ? missing_.contains(b) && in_flight_[b] < max_duplicates
                     : available_.contains(b);
    };
    picked = choose(
        std::min<std::uint64_t>(holds.size(), most_looked_at),
        [&, start = in_order_ ? 0 : rng() % holds.size()](std::uint64_t i) {
          return holds[(start + i) % holds.size()];
        },
        wanted, in_order_);
  }
  auto in_window = [this](std::uint64_t i) { return prefix_ + i; };
  const std::uint64_t window = std::min(window_, count_ - prefix_);
  if (!picked && window > 0 && !available_.items.empty())
    picked = choose(
        window, in_window,
        [&](std::uint64_t b) { return available_.contains(b) && !exclude.contains(b); }, in_order_);
  if (!picked)
    picked = choose(available_.items.size(), in(available_),
                    [&](std::uint64_t b) { return !exclude.contains(b); });
  if (!picked && available_.items.empty()) {
    auto second = [&](std::uint64_t b) {
      return in_flight_[b] < max_duplicates && !exclude.contains(b);
    };
    // In order, the lowest in the window first (the file's last blocks are all in it).
    if (in_order_ && window > 0)
      picked = choose(
          window, in_window, [&](std::uint64_t b) { return missing_.contains(b) && second(b); },
          true);
    if (!picked) picked = choose(missing_.items.size(), in(missing_), second);
  }
  if (!picked) return std::nullopt;
  available_.erase(*picked);
  ++in_flight_[*picked];
  return picked;
}

bool BlockMap::finish(std::uint64_t block, bool verified) {
  std::lock_guard lock(mutex_);
  if (in_flight_[block] > 0) --in_flight_[block];
  if (verified_[block]) return false;
  if (verified) {
    mark_verified(block);
    return true;
  }
  if (in_flight_[block] == 0) available_.insert(block);
  return false;
}

bool BlockMap::claim_write(std::uint64_t block) {
  std::lock_guard lock(mutex_);
  if (verified_[block] || writing_[block]) return false;
  writing_[block] = true;
  return true;
}

void BlockMap::drop_write(std::uint64_t block) {
  std::lock_guard lock(mutex_);
  writing_[block] = false;
}

void BlockMap::set_verified(std::uint64_t block) {
  std::lock_guard lock(mutex_);
  mark_verified(block);
}

void BlockMap::mark_verified(std::uint64_t block) {
  verified_[block] = true;
  writing_[block] = false;
  available_.erase(block);
  missing_.erase(block);
  while (prefix_ < count_ && verified_[prefix_]) ++prefix_;
  end_ = std::max(end_, block + 1);
}

std::uint64_t BlockMap::verified_prefix() const {
  std::lock_guard lock(mutex_);
  return prefix_;
}

void BlockMap::keep_missing(std::vector<std::uint64_t>& blocks) const {
  std::lock_guard lock(mutex_);
  std::erase_if(blocks, [this](std::uint64_t b) { return b >= count_ || verified_[b]; });
}

bool BlockMap::verified(std::uint64_t block) const {
  std::lock_guard lock(mutex_);
  return verified_[block];
}

std::uint64_t BlockMap::verified_count() const {
  std::lock_guard lock(mutex_);
  return count_ - missing_.items.size();
}

std::vector<bool> BlockMap::snapshot() const {
  std::lock_guard lock(mutex_);
  return verified_;
}

BlockMap::Holdings BlockMap::holdings() const {
  std::lock_guard lock(mutex_);
  return {verified_, count_ - missing_.items.size(), prefix_, end_};
}

}  // namespace cascade
