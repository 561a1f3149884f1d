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
// Used only by a peer whose file was complete at start-up (the seed that brings the file); a
// leecher that completes later keeps serving everything. Pure state, thread-safe (one mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "peer/asked_once.hpp"

namespace cascade {

class FirstCopies {
 public:
  explicit FirstCopies(std::uint64_t blocks)
      : sent_(blocks, false), sent_to_(blocks, 0), unsent_(blocks) {}

  // Whether to send `block` to `ip` now (and it counts as sent), or tell it to ask elsewhere.
  // `first_copy`, if given, says whether this is the block's first copy (see not_sent());
  // `asked_again`, whether this ask is served because the same ask was refused before (so no
  // other rule should turn it away again).
  bool serve(std::uint32_t ip, std::uint64_t block, bool* first_copy = nullptr,
             bool* asked_again = nullptr);
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
  AskedOnce told_;                      // guarded by mutex_
  std::atomic<bool> over_{false};
};

}  // namespace cascade
