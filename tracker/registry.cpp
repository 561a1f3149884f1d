#include "tracker/registry.hpp"

#include <algorithm>

namespace cascade {

Registry::Registry(Options options) : options_(options), rng_(options.seed) {}

Registry::SubscribeResult Registry::subscribe(const Hash256& hash, Endpoint peer, bool good,
                                              std::uint64_t now) {
  std::lock_guard lock(mutex_);
  auto it = swarms_.find(hash);
  if (it == swarms_.end()) {
    if (peer_count_ >= options_.max_peers) return SubscribeResult::full;
    it = swarms_.try_emplace(hash).first;
  }
  Swarm& sw = it->second;
  sweep_swarm(sw, now);
  const std::uint64_t key = peer.key();
  bool requeue = true;
  if (auto w = sw.index.find(key); w != sw.index.end()) {
    if (w->second.good == good) {
      slot(sw, w->second).last_seen = now;
      return SubscribeResult::recorded;
    }
    // The good flag changed: move the peer to the other group; its queue entry stays.
    remove(sw, key);
    requeue = false;
  }
  if (peer_count_ >= options_.max_peers) {
    if (sw.index.empty()) swarms_.erase(it);
    return SubscribeResult::full;
  }
  auto& group = good ? sw.good : sw.other;
  sw.index[key] = Where{good, static_cast<std::uint32_t>(group.size())};
  group.push_back(Slot{peer, now});
  if (requeue) sw.expiry.push_back(Queued{key, now});
  ++peer_count_;
  return SubscribeResult::recorded;
}

void Registry::list(const Hash256& hash, Endpoint asker, std::uint64_t now,
                    std::vector<PeerEntry>& out) {
  std::lock_guard lock(mutex_);
  auto it = swarms_.find(hash);
  if (it == swarms_.end()) return;
  Swarm& sw = it->second;
  sweep_swarm(sw, now);
  const std::size_t start = out.size();
  sample(sw.good, asker, now, options_.max_reported, out, true);
  sample(sw.other, asker, now, options_.max_reported - (out.size() - start), out, false);
  if (sw.index.empty()) swarms_.erase(it);
}

void Registry::sample(const std::vector<Slot>& from, Endpoint asker, std::uint64_t now,
                      std::size_t want, std::vector<PeerEntry>& out, bool good) {
  if (want == 0 || from.empty()) return;
  auto emit = [&](const Slot& s) {
    out.push_back(PeerEntry{s.peer.ip, s.peer.port, static_cast<std::uint32_t>(s.last_seen), good});
  };
  auto eligible = [&](const Slot& s) { return !(s.peer == asker) && live(s, now); };
  // Partial Fisher-Yates over positions: O(n) for a small swarm...
  if (from.size() <= 4 * want + 16) {
    scratch_.resize(from.size());
    for (std::uint32_t i = 0; i < scratch_.size(); ++i) scratch_[i] = i;
    std::size_t taken = 0;
    for (std::size_t i = 0; i < scratch_.size() && taken < want; ++i) {
      std::uniform_int_distribution<std::size_t> pick(i, scratch_.size() - 1);
      std::swap(scratch_[i], scratch_[pick(rng_)]);
      const Slot& s = from[scratch_[i]];
      if (eligible(s)) {
        emit(s);
        ++taken;
      }
    }
    return;
  }
  // ...and O(want) random probes for a large one (duplicates and ineligible slots rejected).
  scratch_.clear();
  std::uniform_int_distribution<std::uint32_t> pick(0, static_cast<std::uint32_t>(from.size() - 1));
  for (std::size_t attempts = 0; scratch_.size() < want && attempts < 8 * want; ++attempts) {
    const std::uint32_t p = pick(rng_);
    if (std::find(scratch_.begin(), scratch_.end(), p) != scratch_.end()) continue;
    if (!eligible(from[p])) continue;
    scratch_.push_back(p);
    emit(from[p]);
  }
}

std::size_t Registry::sweep_swarm(Swarm& sw, std::uint64_t now) {
  std::size_t dropped = 0;
  while (!sw.expiry.empty()) {
    const Queued head = sw.expiry.front();
    if (head.queued + options_.peer_ttl_seconds > now) break;  // the oldest entry is still live
    sw.expiry.pop_front();
    auto w = sw.index.find(head.key);
    if (w == sw.index.end()) continue;  // defensive: no peer behind this entry
    const Slot& s = slot(sw, w->second);
    if (live(s, now)) {
      sw.expiry.push_back(Queued{head.key, s.last_seen});  // refreshed since queued: requeue
      continue;
    }
    remove(sw, head.key);
    ++dropped;
  }
  return dropped;
}

void Registry::remove(Swarm& sw, std::uint64_t key) {
  auto w = sw.index.find(key);
  if (w == sw.index.end()) return;
  auto& group = w->second.good ? sw.good : sw.other;
  const std::uint32_t pos = w->second.pos;
  if (pos + 1 != group.size()) {
    group[pos] = group.back();
    sw.index[group[pos].peer.key()].pos = pos;
  }
  group.pop_back();
  sw.index.erase(w);
  --peer_count_;
}

std::size_t Registry::sweep(std::uint64_t now) {
  std::lock_guard lock(mutex_);
  std::size_t dropped = 0;
  for (auto it = swarms_.begin(); it != swarms_.end();) {
    dropped += sweep_swarm(it->second, now);
    it = it->second.index.empty() ? swarms_.erase(it) : std::next(it);
  }
  return dropped;
}

std::vector<Registry::SwarmCount> Registry::swarm_counts(std::size_t max) const {
  std::vector<SwarmCount> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(swarms_.size());
    for (const auto& [hash, sw] : swarms_)
      out.push_back(SwarmCount{hash, sw.good.size() + sw.other.size(), sw.good.size()});
  }
  const std::size_t n = std::min(max, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                    [](const SwarmCount& a, const SwarmCount& b) {
                      return a.peers != b.peers ? a.peers > b.peers : a.hash < b.hash;
                    });
  out.resize(n);
  return out;
}

std::size_t Registry::retain(const std::function<bool(const Hash256&)>& keep) {
  std::lock_guard lock(mutex_);
  std::size_t dropped = 0;
  for (auto it = swarms_.begin(); it != swarms_.end();) {
    if (keep(it->first)) {
      ++it;
      continue;
    }
    peer_count_ -= it->second.index.size();
    it = swarms_.erase(it);
    ++dropped;
  }
  return dropped;
}

void Registry::set_options(Options options) {
  std::lock_guard lock(mutex_);
  options.seed = options_.seed;
  options_ = options;
}

Registry::Counts Registry::counts() const {
  std::lock_guard lock(mutex_);
  return Counts{swarms_.size(), peer_count_};
}

}  // namespace cascade
