// The whole file's SHA-256, computed while the file downloads instead of after it.
//
// Blocks are verified in any order, but SHA-256 consumes a file front to back. The hasher keeps
// one running SHA-256 over the verified prefix of the file. After each block is verified, the
// hasher extends it over every block that is now contiguous: the block just verified is hashed
// from the verifier's buffer (still in the CPU cache), the others are read back from storage.
// The downloader's picking window keeps the verified prefix growing, so at the end little is
// left to hash.
//
// Only verified blocks are ever hashed, and their bytes no longer change, so the digest is that
// of the file as verified. If reading fails midway, the running hash is abandoned and finish()
// hashes the whole file from storage again.
//
// Thread-safety: advance() and finish() may be called from any thread. One thread hashes at a
// time; a thread that finds the hasher busy leaves a note and returns at once, and the busy
// thread looks again before it stops, so no verified block is left behind. Except: a thread whose
// block in memory is among the next few the busy thread will reach (within handoff_bytes) waits
// instead. The busy thread stops short of that block and hands the hash straight to it, and the
// block is hashed from its buffer: with blocks arriving in order, two verifiers per connection
// alternate, and without the hand-off the one that lost read the other's block back nearly every
// time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "common/sha256.hpp"
#include "peer/block_map.hpp"
#include "peer/storage.hpp"

namespace cascade {

class PrefixHasher {
 public:
  PrefixHasher(const BlockMap& blocks, Storage& storage);

  static constexpr std::uint64_t no_block = ~0ull;
  // How far ahead of the busy owner's position a block in memory may start for its verifier to
  // wait for the owner rather than leave the block to be read back: a few milliseconds' hashing.
  static constexpr std::uint64_t handoff_bytes = 4ull << 20;
  // Extends the running hash over the verified prefix. `block` and `data`: a block just verified
  // and its bytes in memory, used instead of reading it back (optional). Never throws.
  void advance(std::uint64_t block = no_block, ByteSpan data = {});
  // The SHA-256 of the whole file. Call once every block is verified; hashes whatever the
  // prefix has not covered yet. Blocks until a concurrent advance() ends. Throws on read errors.
  Hash256 finish();
  // Blocks covered by the running hash so far (for statistics and tests).
  std::uint64_t hashed_blocks() const { return hashed_.load(); }
  // Of those, blocks hashed from the verifier's buffer rather than read back.
  std::uint64_t hashed_from_memory() const { return from_memory_.load(); }

 private:
  // Owner of the hash only. `hand_off`: stop before a block a waiting verifier holds in memory.
  void hash_prefix(std::uint64_t block, ByteSpan data, bool hand_off);

  const BlockMap& blocks_;
  Storage& storage_;  // read back, and told what is hashed (done_with_below)
  std::mutex mutex_;
  std::condition_variable idle_;
  bool busy_ = false;       // guarded by mutex_; a thread owns sha_ and next_
  bool again_ = false;      // guarded by mutex_; more blocks were verified while busy
  bool handed_ = false;     // guarded by mutex_; the owner handed the hash to the waiter
  bool broken_ = false;     // owner only; a read failed, so the running hash is unusable
  Sha256 sha_;              // owner only
  std::uint64_t next_ = 0;  // owner only; the first block not in sha_
  // A block whose verifier waits to hash it from memory: the owner stops before it.
  std::atomic<std::uint64_t> handoff_{no_block};
  std::atomic<std::uint64_t> hashed_{0}, from_memory_{0};
};

}  // namespace cascade
