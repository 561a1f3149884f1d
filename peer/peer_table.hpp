// The peers one file's downloader knows: where they are, how they behaved, when each may be tried
// again, and which blocks each said it does not hold. Pure state: the clock is passed in, like
// the tracker's Registry, so every decision here (which peer next, when to retry, when to ban)
// is unit-tested with a fake clock.
//
// Rules:
// - choose() prefers peers the tracker flags good, then peers that delivered before, then fresh
//   ones (seen by the tracker within stale_after of the newest entry: an old entry is likely a
//   peer that left, whose connect may hang until it times out); ties in random order (so
//   leechers spread over the swarm).
// - a peer that sent wrong blocks gets a strike for each; max_strikes ban it for good, and so
//   does an answer that it does not serve this file at all.
// - retry delays: a connection that failed before delivering anything backs off exponentially
//   (failure_backoff x 2^failures, up to 2^max_backoff_doublings); one that delivered and was
//   then closed by the peer (some serve a few blocks per connection) is asked again at once,
//   since each such connection makes progress, and so is one we ended ourselves to drop an
//   endgame copy that came from another peer first (the protocol has no cancel); any other end
//   waits a short pause.
// - peers that close early: some serve N answers per connection and close, and a close with our
//   next requests unread reaches us as a reset that may take the block in flight with it. A
//   close with requests pending teaches the peer's answer limit (the answers that connection
//   got, at least 1), which its next connections keep to (fetch_policy.hpp: may_ask); such a
//   close is no failure when the peer delivered on that connection or before, or when it is the
//   first sign of a limit, and only once in a row without a delivery, so a peer that closes
//   every connection without delivering still backs off.
//
// Thread-safety: every public method is safe from any thread (one mutex, short sections).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/endpoint.hpp"
#include "peer/in_flight.hpp"
#include "proto/wire.hpp"

namespace cascade {

using SteadyClock = std::chrono::steady_clock;

// Blocks a peer said it does not hold ("don't have", status 2), each believed until its time is
// up: peers gain blocks as they download, so the answer goes stale. A firm answer is one that
// asked us to try other peers first (a busy peer, a seed's first-copy rule): it lasts its whole
// time even when the connection, idle, forgets the others sooner.
class LackMemory {
 public:
  void note(std::uint64_t block, SteadyClock::time_point until, bool firm = false);
  // The peer has it now after all (it said so): askable again at once, unless the answer was
  // firm (the peer holds it, but asked us to try others first).
  void forget(std::uint64_t block);
  // Forgets every answer whose time is up by `now`, and every answer that is not firm whose
  // time is up by `soft` (when later than now).
  void forget_expired(SteadyClock::time_point now, SteadyClock::time_point soft = {});
  const BlockSet& blocks() const { return set_; }

 private:
  struct Until {
    SteadyClock::time_point at;
    bool firm;
  };
  using Queue = std::deque<std::pair<SteadyClock::time_point, std::uint64_t>>;
  void expire(Queue& queue, SteadyClock::time_point cutoff, bool firm);
  // Each in time order: firm answers last 300 or 750 ms, so a later note may expire sooner.
  Queue expiry_, firm_expiry_;
  std::unordered_map<std::uint64_t, Until> until_;
  BlockSet set_;
};

// What a connection is handed about its peer: the "don't have" answers and the blocks the peer
// last said it holds (holdings_hint.hpp), which it keeps up to date and hands back, and how many
// answers the peer gives on one connection (0: no limit seen).
struct PeerMemory {
  // How long a "don't have" answer is believed: long enough not to ask again at once, short
  // enough that a leecher which has since got the block is asked again within a second.
  static constexpr auto lack_memory = std::chrono::milliseconds(750);
  // ... and a busy peer's (holdings_hint.hpp: busy_words): one of its slots frees within about a
  // block's send time (a 1 MiB block at a quarter of 100 Mbit/s: 340 ms). Believed for 750 ms,
  // a holder of a new block served four and had the other twelve askers stay away after its
  // slots were free again. Measured on the network lab (16 leechers, 100 Mbit/s, 1 MiB blocks,
  // medians of 3): 300 ms 1.32 x T*, 150 ms 1.34 x, 750 ms 1.34 x; 256 KiB blocks: 1.22 x
  // against 1.23 x.
  static constexpr auto busy_memory = std::chrono::milliseconds(300);
  // A soft answer, while a connection to the peer has nothing else to ask for, this long: asking
  // again costs a request and a short answer, waiting may cost the end of a small download.
  static constexpr auto lack_memory_idle = std::chrono::milliseconds(40);

  // A status-2 answer for `block` with its `message`, received at `now`: noted (firm when it asks
  // us to try other peers first; believed for busy_memory when it is the busy answer, otherwise
  // lack_memory), and the peer's holdings taken from its hint, with the soft "don't have"
  // answers for them forgotten. A plain "don't have" for a block the peer said it holds (before,
  // or in this very hint) drops the hints: they were wrong, or the peer restarted.
  void refused(std::uint64_t block, std::string_view message, std::uint64_t block_count,
               SteadyClock::time_point now);

  LackMemory lacks;
  std::vector<std::uint64_t> holds;  // ascending
  std::size_t answer_limit = 0;
};

class PeerTable {
 public:
  using Clock = SteadyClock;
  static constexpr int max_strikes = 3;  // wrong blocks before a peer is banned
  // An entry the tracker saw this much longer ago than its newest is stale (see choose()).
  static constexpr std::uint32_t stale_after_seconds = 120;
  // Retry after a connection that failed without delivering: failure_backoff x 2^failures,
  // doubling at most max_backoff_doublings times (250 ms ... 64 s).
  static constexpr auto failure_backoff = std::chrono::milliseconds(250);
  static constexpr int max_backoff_doublings = 8;
  // Retry after a failure that came after some delivery, and after an orderly end (the
  // connection had nothing to ask for, or the download stopped).
  static constexpr auto pause_after_failure = std::chrono::milliseconds(500);
  static constexpr auto pause_after_end = std::chrono::milliseconds(200);

  struct Options {
    std::size_t max_peers = 1000;  // peers remembered; more are not added
    Endpoint self;                 // our own address: never a source
  };
  // What one connection to a peer came to.
  struct Outcome {
    std::uint64_t delivered = 0;   // blocks it sent that verified
    std::uint64_t answered = 0;    // blocks it sent, verified or not
    std::uint64_t unanswered = 0;  // requests still pending when the connection ended
    int strikes = 0;               // wrong blocks, out-of-range or undecodable answers
    bool failed = false;           // it ended in an error, not because we were done with it
    bool closed_by_peer = false;   // the peer closed the connection (end of stream, reset)
    bool refuses_file = false;     // the peer does not serve this file at all
    bool not_started = false;      // connected, but every download slot was taken by then
    bool dropped_copy = false;     // we ended it: the block coming in had arrived elsewhere
  };
  enum class Standing { fine, banned_now };

  explicit PeerTable(Options options) : options_(options) {}

  // Adds peers from a tracker's answer (never ourselves, never address or port 0), refreshing the
  // good flag and last-seen time of those known. Returns how many were new.
  std::size_t merge(const std::vector<PeerEntry>& entries);
  // Up to `want` peers to connect to now, each marked connected until release().
  std::vector<Endpoint> choose(std::size_t want, Clock::time_point now, std::mt19937_64& rng);
  // What is remembered of `peer`, handed to its connection; its "don't have" answers and
  // holdings come back with release().
  PeerMemory take_memory(const Endpoint& peer);
  // Ends a connection chosen by choose(): books its outcome and decides when the peer may be
  // tried again. Returns banned_now when this outcome banned it.
  Standing release(const Endpoint& peer, const Outcome& outcome, PeerMemory memory,
                   Clock::time_point now);

  struct Counts {
    std::size_t known = 0, banned = 0, connected = 0;
    std::size_t ready = 0;  // neither banned nor connected, and due for a try
  };
  Counts counts(Clock::time_point now) const;
  // When a peer that ended with `outcome` after `failures` consecutive failures may be retried;
  // `forgiven`: an early close that is the peer's habit (see above), retried at once.
  static Clock::duration retry_delay(const Outcome& outcome, int failures, bool forgiven = false);

 private:
  struct Peer {
    Endpoint ep;
    bool good = false, connected = false, banned = false;
    std::uint32_t last_seen = 0;  // the tracker's, Unix seconds
    int strikes = 0;
    int failures = 0;              // consecutive connections that failed without delivering
    Clock::time_point retry_at{};  // not before
    std::uint64_t delivered = 0;   // verified blocks received from it, over all connections
    std::size_t answer_limit = 0;  // answers it gives on one connection; 0: no limit seen
    LackMemory lacks;
    std::vector<std::uint64_t> holds;  // what it last said it holds
  };
  const Options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, Peer> peers_;  // guarded by mutex_; Endpoint::key() ->
};

}  // namespace cascade
