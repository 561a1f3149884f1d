// A seed's serving rule while its file is new to the swarm: every block goes out once before any
// goes out twice. With equal links the swarm can finish in about one file-time of the seed's
// uplink only if the seed never sends a block twice (SWARM-NOTES.md: the bound); leechers that
// pick at random would otherwise ask it for the same blocks, and it sent each about three times.
//
// So, until every block has been sent once, a request for a block already sent is answered
// "not held" (status 2): the block is in the swarm, ask the leechers. It is a hint, never a
// refusal (AskedOnce): the same address asking again for the same block gets it, and so does
// the address the first copy went to (another program on that host, or the same one
// on a new connection: telling it to look elsewhere would send it in circles).
// Once every block has been sent, everything is served and the rule costs nothing.
//
// First copies also go out about in file order: only from the front, the `in_order` blocks
// from the lowest unsent one on; a first ask for a block beyond the front is told to ask
// elsewhere too (asked again, it is sent). A front nobody asks for (a second seed, or this one
// restarted, while the swarm has those blocks already) would hold every later block back: once
// asks beyond the front have been refused for `front_patience` with none for the front
// meanwhile, every block is sent on its first ask until the front is asked for again.
// Not on the loopback interface (BlockServer passes `ordered` false): there no uplink is shared
// and one leecher's deep pipeline met refusal after refusal (scripts/bench/swarm.sh on tmpfs,
// 1 seed to 1 leecher: 1.44 x as long with the front as without). Each refusal
// names the front's unsent blocks as a holdings hint, so a client of ours asks for one of those
// next instead of guessing. Why: every leecher checks the whole-file SHA-256 over its verified
// prefix as blocks arrive (PrefixHasher); with blocks entering the swarm at random its prefix stays
// short until the very end, and sixteen leechers finishing together then hashed most of the file at
// once on a shared machine (11 of 64 blocks hashed before the last one arrived; 150-220 ms from the
// last block to "complete"). Entering in order, the blocks spread in about that order and the
// prefix follows (45-63 of 64). Leechers still pick at random among what their peers hold, so
// trading stays as diverse. Measured on the network lab (16 leechers, 100 Mbit/s, 64 MiB in 1 MiB
// blocks, medians of 5, one batch): a front of 32 blocks 6.96 s = 1.30 x T*, 8 blocks 7.03 s, any
// order 7.14 s. Leechers picking in file order themselves (lowest first) was far worse: 9.12 s, the
// seed sending 1.61 copies.
//
// Used only by a peer whose file was complete at start-up (the seed that brings the file); a
// leecher that completes later keeps serving everything. Pure state, thread-safe (one mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "peer/asked_once.hpp"

namespace cascade {

class FirstCopies {
 public:
  // First copies go out from the `in_order` blocks from the lowest unsent one on (0: in any
  // order).
  static constexpr std::uint64_t default_in_order = 32;
  using Clock = AskedOnce::Clock;
  static constexpr auto front_patience = std::chrono::seconds(2);
  explicit FirstCopies(std::uint64_t blocks, std::uint64_t in_order = default_in_order)
      : sent_(blocks, false), sent_to_(blocks, 0), unsent_(blocks), in_order_(in_order) {}

  struct Answer {
    bool send = true;  // send `block` now (it counts as sent); else tell the asker to ask elsewhere
    bool first_copy = false;   // the block's first copy (see not_sent())
    bool asked_again = false;  // served because the same ask was refused before: no other rule
                               // should turn it away again
    bool ahead = false;  // refused beyond the front: nobody has the block yet (else: it is in the
                         // swarm already)
    // Refused: the front's unsent blocks as a holdings hint for the message (unsent_hint), taken
    // under the same lock as the answer; "" in any order.
    std::string hint;
    explicit operator bool() const { return send; }
  };
  // Whether to send `block` to `ip` now. `ordered` false: the front does not apply to this ask
  // (an asker on the loopback interface).
  Answer serve(std::uint32_t ip, std::uint64_t block, Clock::time_point now = Clock::now(),
               bool ordered = true);
  // Sending the first copy of `block` failed (the connection broke): it is not in the swarm.
  void not_sent(std::uint64_t block);
  // Every block has gone out at least once: the rule is over.
  bool over() const { return over_.load(std::memory_order_relaxed); }
  std::uint64_t unsent() const;

 private:
  mutable std::mutex mutex_;
  std::vector<bool> sent_;
  std::vector<std::uint32_t> sent_to_;  // guarded by mutex_: the address of each first copy
  std::uint64_t unsent_;                // guarded by mutex_
  std::uint64_t front_ = 0;             // guarded by mutex_; the lowest unsent block
  const std::uint64_t in_order_;
  AskedOnce told_;        // guarded by mutex_; asks for blocks sent already
  AskedOnce told_ahead_;  // guarded by mutex_; asks beyond the front
  // guarded by mutex_; the first ask beyond the front refused since the front was last asked for
  std::optional<Clock::time_point> refusing_since_;
  std::atomic<bool> over_{false};

  Answer refuse(bool ahead) const;  // with mutex_ held
};

}  // namespace cascade
