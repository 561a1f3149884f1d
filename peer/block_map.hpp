// Which blocks of one file are verified, missing, or being fetched.
//
// Design: three views kept in step under one mutex. `verified_` is the truth for serving (a block
// is verified only after its SHA-256 matched and it was written). `available_` holds the missing
// blocks nobody is fetching, `missing_` every block not yet verified; both are dense vectors with
// position indexes, so picking a random block and removing one are O(1). Endgame: when nothing
// is available, a missing block already in flight may be requested from a second source.
//
// Picking window: with set_window(w), picks prefer a random available block among the w blocks
// that follow the first missing one. Picks stay random (concurrent downloaders still hold
// different blocks to trade) while the verified prefix grows steadily, so the whole file's
// SHA-256 can be computed during the download instead of after it. Without a window, or when
// the window has nothing to give, any available block may be picked.
//
// In order (set_in_order): picks take the lowest eligible block of the window (and of a peer's
// hint) instead of a random one; past the window, and with no window, they stay random. For a
// download that serves nobody (--client-only), whose order no other peer trades on: blocks then
// arrive at the prefix's edge, and the whole-file hash takes nearly every one from the verifier's
// buffer instead of reading it back (PrefixHasher). Measured on loopback (ext4, 1 GiB, 1 MiB
// blocks, one client from a seed; swarm_bench, 5 runs alternating, in order against random in
// the window, both with the hand-off): 1.667 s against 1.785 s (every pair faster), leecher CPU
// 2.32 against 2.56 s.
//
// Thread-safety: every public method is safe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "peer/in_flight.hpp"

namespace cascade {

// What a pick passes over for one connection: the blocks it holds (InFlight::blocks()) and the
// ones its peer said it does not have (LackMemory::blocks()); and what it prefers: the blocks
// its peer said it holds (holdings_hint.hpp; null or empty: nothing known). Plain data, read
// under the map's lock; no caller code runs there.
struct PickExclusions {
  const BlockSet& held;
  const BlockSet& lacking;
  const std::vector<std::uint64_t>* peer_holds = nullptr;
  bool contains(std::uint64_t block) const {
    return held.contains(block) || lacking.contains(block);
  }
};

class BlockMap {
 public:
  explicit BlockMap(std::uint64_t count);
  void set_window(std::uint64_t blocks);  // 0: no window (uniformly random picks)
  void set_in_order(bool in_order);       // lowest eligible block first (see above)

  // Test fixture: one character per block, 'V' verified, '.' missing, '?' in flight once.
  static std::unique_ptr<BlockMap> from_string(std::string_view blocks);
  std::string to_string() const;

  // Picks a block to request and counts it in flight: a random (in order: the lowest in the
  // window) available block not in `exclude`; in endgame a missing block in flight fewer than
  // `max_duplicates` times. A block the peer said it holds comes first, window or not (a bounded
  // look at those; then the usual pick). Random among those, not rarest first: the rarest by
  // every connected peer's latest hint was measured on the network lab (16 leechers, 100 Mbit/s,
  // 64 MiB in 1 MiB blocks, medians of 5, two batches each way): 1.33 and 1.33 x T* against 1.34
  // and 1.33 x, no gain.
  std::optional<std::uint64_t> pick(std::mt19937_64& rng, const PickExclusions& exclude,
                                    unsigned max_duplicates = 2);
  // Ends one request for `block`. With verified == true (its hash matched and it is written),
  // the block becomes verified; returns true only the first time. Otherwise it returns to the
  // available set once no request for it remains.
  bool finish(std::uint64_t block, bool verified);
  // Claims the one write of `block` for a request whose bytes matched: false once it is verified
  // or while another request writes it (endgame: one block asked of two sources). Those end
  // their requests with finish(block, false) and write nothing: no block is written twice, and
  // nothing of ours writes a complete file (a write would move the time the block server checks:
  // SharedFile::verified_mtime_ns). The claim ends with the claimer's finish(block, true), or
  // with drop_write(block) when its write failed.
  bool claim_write(std::uint64_t block);
  void drop_write(std::uint64_t block);
  // Marks a block verified without a request (start-up scan, journal replay).
  void set_verified(std::uint64_t block);

  bool verified(std::uint64_t block) const;
  // Drops the verified blocks from `blocks` (a peer's hint: what we hold needs no asking).
  void keep_missing(std::vector<std::uint64_t>& blocks) const;
  std::uint64_t count() const { return count_; }
  std::uint64_t verified_count() const;
  bool complete() const { return verified_count() == count_; }
  std::vector<bool> snapshot() const;
  // The number of leading blocks that are all verified.
  std::uint64_t verified_prefix() const;
  // The verified flags with their count, their leading run [0, prefix) and their end (one past
  // the last verified block), taken together (one lock): what a holdings hint lists.
  struct Holdings {
    std::vector<bool> verified;
    std::uint64_t count = 0, prefix = 0, end = 0;
  };
  Holdings holdings() const;

 private:
  static constexpr std::uint64_t npos = ~0ull;
  struct IndexedSet {  // dense set of block numbers with O(1) insert, erase and random pick
    std::vector<std::uint64_t> items, pos;
    explicit IndexedSet(std::uint64_t n) : pos(n, npos) {}
    bool contains(std::uint64_t b) const { return pos[b] != npos; }
    void insert(std::uint64_t b);
    void erase(std::uint64_t b);
  };

  void mark_verified(std::uint64_t block);  // mutex_ held

  std::uint64_t count_;
  mutable std::mutex mutex_;
  std::uint64_t window_ = 0;              // guarded by mutex_
  bool in_order_ = false;                 // guarded by mutex_
  std::uint64_t prefix_ = 0;              // guarded by mutex_; blocks [0, prefix_) are verified
  std::uint64_t end_ = 0;                 // guarded by mutex_; none verified at or after it
  std::vector<bool> verified_;            // guarded by mutex_
  std::vector<bool> writing_;             // guarded by mutex_; claimed by a request (claim_write)
  std::vector<std::uint16_t> in_flight_;  // guarded by mutex_; outstanding requests per block
  IndexedSet available_;                  // guarded by mutex_; missing and not in flight
  IndexedSet missing_;                    // guarded by mutex_; not verified
};

}  // namespace cascade
