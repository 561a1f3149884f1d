#include "peer/peer_table.hpp"

#include <algorithm>

#include "peer/holdings_hint.hpp"

namespace cascade {

void LackMemory::note(std::uint64_t block, SteadyClock::time_point until, bool firm) {
  until_[block] = Until{until, firm};
  set_.insert(block);
  Queue& queue = firm ? firm_expiry_ : expiry_;
  // Almost always at the end (one lifetime per kind, noted in time order); a busy answer noted
  // soon after a first-copy answer goes before it.
  const auto at = std::upper_bound(queue.begin(), queue.end(), until,
                                   [](const auto& t, const auto& e) { return t < e.first; });
  queue.emplace(at, until, block);
}

void LackMemory::forget(std::uint64_t block) {
  const auto it = until_.find(block);
  if (it == until_.end() || it->second.firm) return;
  until_.erase(it);  // its entry in the queue finds nothing when its time comes
  set_.erase(block);
}

void LackMemory::expire(Queue& queue, SteadyClock::time_point cutoff, bool firm) {
  while (!queue.empty() && queue.front().first <= cutoff) {
    const std::uint64_t b = queue.front().second;
    queue.pop_front();
    // A later note for the same block keeps it (its own entry comes later in a queue).
    auto it = until_.find(b);
    if (it != until_.end() && it->second.firm == firm && it->second.at <= cutoff) {
      until_.erase(it);
      set_.erase(b);
    }
  }
}

void LackMemory::forget_expired(SteadyClock::time_point now, SteadyClock::time_point soft) {
  expire(firm_expiry_, now, true);
  expire(expiry_, std::max(now, soft), false);
}

void PeerMemory::refused(std::uint64_t block, std::string_view message, std::uint64_t block_count,
                         SteadyClock::time_point now) {
  const bool firm = message.find(ask_elsewhere_words) != std::string_view::npos;
  const bool busy = firm && message.find(busy_words) != std::string_view::npos;
  lacks.note(block, now + (busy ? busy_memory : lack_memory), firm);
  std::vector<std::uint64_t> hint = parse_holdings_hint(message, block_count);
  if (!firm && (std::binary_search(holds.begin(), holds.end(), block) ||
                std::binary_search(hint.begin(), hint.end(), block))) {
    holds.clear();
    return;
  }
  if (hint.empty()) return;
  for (const std::uint64_t b : hint) lacks.forget(b);
  holds = std::move(hint);
}

std::size_t PeerTable::merge(const std::vector<PeerEntry>& entries) {
  std::lock_guard lock(mutex_);
  std::size_t new_peers = 0;
  for (const auto& e : entries) {
    const Endpoint ep{e.ip, e.port};
    if (ep.ip == 0 || ep.port == 0 || ep == options_.self) continue;
    if (peers_.size() >= options_.max_peers && !peers_.contains(ep.key())) continue;
    auto [it, added] = peers_.try_emplace(ep.key());
    if (added) {
      it->second.ep = ep;
      ++new_peers;
    }
    it->second.good = e.good;
    it->second.last_seen = std::max(it->second.last_seen, e.last_seen);
  }
  return new_peers;
}

std::vector<Endpoint> PeerTable::choose(std::size_t want, Clock::time_point now,
                                        std::mt19937_64& rng) {
  std::lock_guard lock(mutex_);
  std::vector<Peer*> candidates;
  for (auto& [key, p] : peers_)
    if (!p.connected && !p.banned && p.retry_at <= now) candidates.push_back(&p);
  std::uint32_t newest = 0;
  for (const Peer* p : candidates) newest = std::max(newest, p->last_seen);
  const auto fresh = [&](const Peer* p) { return p->last_seen + stale_after_seconds >= newest; };
  std::shuffle(candidates.begin(), candidates.end(), rng);
  std::stable_sort(candidates.begin(), candidates.end(), [&](const Peer* a, const Peer* b) {
    if (a->good != b->good) return a->good;
    if ((a->delivered > 0) != (b->delivered > 0)) return a->delivered > 0;
    return fresh(a) > fresh(b);
  });
  std::vector<Endpoint> out;
  for (std::size_t i = 0; i < candidates.size() && out.size() < want; ++i) {
    candidates[i]->connected = true;
    out.push_back(candidates[i]->ep);
  }
  return out;
}

PeerMemory PeerTable::take_memory(const Endpoint& peer) {
  std::lock_guard lock(mutex_);
  auto it = peers_.find(peer.key());
  if (it == peers_.end()) return {};
  return PeerMemory{std::move(it->second.lacks), std::move(it->second.holds),
                    it->second.answer_limit};
}

PeerTable::Clock::duration PeerTable::retry_delay(const Outcome& o, int failures, bool forgiven) {
  if (forgiven || (o.dropped_copy && o.strikes == 0)) return Clock::duration::zero();
  if (o.failed && o.delivered == 0)
    return failure_backoff * (1 << std::min(failures, max_backoff_doublings));
  if (o.closed_by_peer && o.strikes == 0) return Clock::duration::zero();
  return o.failed ? Clock::duration(pause_after_failure) : Clock::duration(pause_after_end);
}

PeerTable::Standing PeerTable::release(const Endpoint& peer, const Outcome& o, PeerMemory memory,
                                       Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Peer& p = peers_[peer.key()];
  if (p.ep.port == 0) p.ep = peer;
  const bool was_banned = p.banned;
  const bool delivered_before = p.delivered > 0;
  p.connected = false;
  p.delivered += o.delivered;
  p.strikes += o.strikes;
  p.lacks = std::move(memory.lacks);
  p.holds = std::move(memory.holds);
  if (o.not_started) {  // nothing learned of the peer
    p.retry_at = now + pause_after_end;
    return Standing::fine;
  }
  if (p.strikes >= max_strikes || o.refuses_file) p.banned = true;
  // A close with our requests pending: the peer's habit, or a failure (see the header).
  const bool early_close = o.closed_by_peer && o.strikes == 0 && o.unanswered > 0;
  const bool forgiven = early_close && o.delivered == 0 && p.failures == 0 &&
                        (delivered_before || p.answer_limit == 0);
  if (early_close)
    p.answer_limit = std::max<std::size_t>(o.answered, 1);
  else if (p.answer_limit > 0 && o.answered > p.answer_limit)
    p.answer_limit = 0;  // it answered past its limit and did not close: no limit after all
  if (o.failed && o.delivered == 0)
    ++p.failures;
  else if (o.closed_by_peer && o.strikes == 0)
    p.failures = 0;
  else
    p.failures = o.failed ? 1 : 0;
  p.retry_at = now + retry_delay(o, p.failures, forgiven);
  return p.banned && !was_banned ? Standing::banned_now : Standing::fine;
}

PeerTable::Counts PeerTable::counts(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  Counts c;
  c.known = peers_.size();
  for (const auto& [key, p] : peers_) {
    c.banned += p.banned;
    c.connected += p.connected;
    c.ready += !p.banned && !p.connected && p.retry_at <= now;
  }
  return c;
}

}  // namespace cascade
