// The tracker's registry: which peers (ip:port) were seen in which swarm (cascade hash), and when.
//
// Design: pure state. Time is passed in by the caller (Unix seconds) and randomness comes from a
// seeded generator, so tests control both. Each swarm keeps its good and ordinary peers in two
// dense vectors (swap-remove), an index from endpoint to slot, and an expiry queue with one entry
// per peer in roughly last-seen order. Expired peers are swept from the queue front: amortised
// O(1) per request, never a scan of the swarm. Queue order can lag behind re-subscriptions, so
// listing also checks each candidate's last-seen time: an expired peer is never listed.
//
// Thread-safety: every public method is safe to call from any thread (one mutex, short
// critical sections).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include "common/endpoint.hpp"
#include "common/sha256.hpp"
#include "proto/wire.hpp"

namespace cascade {

// The registry's defaults; the tracker's configuration takes its own from here.
namespace registry_defaults {
inline constexpr std::uint64_t peer_ttl_seconds = 1800;  // 30 min: three missed 10-min announces
inline constexpr std::size_t max_reported = 20;          // what existing trackers send
inline constexpr std::size_t max_peers = 1'000'000;      // about 100 MB of registry at most
}  // namespace registry_defaults

class Registry {
 public:
  struct Options {
    std::uint64_t peer_ttl_seconds =
        registry_defaults::peer_ttl_seconds;                     // not seen this long: gone
    std::size_t max_reported = registry_defaults::max_reported;  // peers per answer
    std::size_t max_peers =
        registry_defaults::max_peers;  // peers remembered in all swarms together
    std::uint64_t seed = std::random_device{}();
  };
  enum class SubscribeResult { recorded, full };

  explicit Registry(Options options);

  // Records `peer` in swarm `hash` as seen at `now`. `full` when max_peers is reached and the
  // peer is new (a known peer is always refreshed).
  SubscribeResult subscribe(const Hash256& hash, Endpoint peer, bool good, std::uint64_t now);
  // Up to max_reported live peers of `hash`, never `asker`; good peers first, each group in
  // random order. Appends to `out`.
  void list(const Hash256& hash, Endpoint asker, std::uint64_t now, std::vector<PeerEntry>& out);
  // Drops expired peers (and empty swarms) everywhere; returns how many peers were dropped.
  std::size_t sweep(std::uint64_t now);

  struct Counts {
    std::size_t swarms = 0;
    std::size_t peers = 0;
  };
  Counts counts() const;
  // Each swarm's peers (expired ones not yet swept included), the largest swarms first; at most
  // `max` swarms.
  struct SwarmCount {
    Hash256 hash{};
    std::size_t peers = 0, good = 0;
  };
  std::vector<SwarmCount> swarm_counts(std::size_t max) const;
  // Drops every swarm `keep` says no to, with its peers; returns how many swarms went.
  std::size_t retain(const std::function<bool(const Hash256&)>& keep);
  // New limits (a reloaded configuration); the seed stays. Peers beyond a lower max_peers stay
  // until they expire; no new ones are recorded meanwhile.
  void set_options(Options options);

 private:
  struct Slot {
    Endpoint peer;
    std::uint64_t last_seen = 0;
  };
  struct Where {
    bool good = false;
    std::uint32_t pos = 0;  // index in Swarm::good or Swarm::other
  };
  struct Queued {
    std::uint64_t key = 0;     // Endpoint::key()
    std::uint64_t queued = 0;  // the peer's last-seen time when this entry was queued
  };
  struct Swarm {
    std::vector<Slot> good, other;
    std::unordered_map<std::uint64_t, Where> index;  // Endpoint::key() -> slot
    std::deque<Queued> expiry;                       // one entry per peer, oldest first
  };

  bool live(const Slot& s, std::uint64_t now) const {
    return s.last_seen + options_.peer_ttl_seconds > now;
  }
  Slot& slot(Swarm& sw, const Where& w) { return w.good ? sw.good[w.pos] : sw.other[w.pos]; }
  std::size_t sweep_swarm(Swarm& sw, std::uint64_t now);
  void remove(Swarm& sw, std::uint64_t key);
  void sample(const std::vector<Slot>& from, Endpoint asker, std::uint64_t now, std::size_t want,
              std::vector<PeerEntry>& out, bool good);

  mutable std::mutex mutex_;
  Options options_;                                     // guarded by mutex_
  std::unordered_map<Hash256, Swarm, HashKey> swarms_;  // guarded by mutex_
  std::size_t peer_count_ = 0;                          // guarded by mutex_
  std::mt19937_64 rng_;                                 // guarded by mutex_
  std::vector<std::uint32_t> scratch_;                  // guarded by mutex_; sampling positions
};

}  // namespace cascade
