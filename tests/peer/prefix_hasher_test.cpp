#include "peer/prefix_hasher.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "common/thread_pool.hpp"
#include "peer/create.hpp"
#include "tests/support/process.hpp"

using namespace cascade;

namespace {
// A random data file (the last block short) and its cascade file; a fresh destination to fill.
struct Fixture {
  explicit Fixture(std::uint64_t size, std::uint64_t block_size = 4096) {
    std::mt19937_64 rng(size);
    bytes.resize(size);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    std::ofstream(dir.file("src"), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(size));
    ThreadPool pool(2);
    meta = make_cascade(dir.file("src"), block_size, pool);
    storage = std::make_unique<Storage>(dir.file("dst"), meta);
    blocks = std::make_unique<BlockMap>(meta.block_count());
  }
  ByteSpan block(std::uint64_t b) const {
    return {bytes.data() + meta.block_offset(b), static_cast<std::size_t>(meta.block_length(b))};
  }
  // What the downloader does for a block that passed its check: write it, mark it, advance.
  void deliver(PrefixHasher& h, std::uint64_t b, bool with_buffer = true) {
    storage->write_block(b, block(b));
    blocks->set_verified(b);
    h.advance(b, with_buffer ? block(b) : ByteSpan{});
  }
  std::vector<std::uint64_t> shuffled(std::uint64_t seed) const {
    std::vector<std::uint64_t> order(meta.block_count());
    for (std::uint64_t b = 0; b < order.size(); ++b) order[b] = b;
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    return order;
  }
  test::TempDir dir;
  std::vector<std::uint8_t> bytes;
  CascadeFile meta;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<BlockMap> blocks;
};
}  // namespace

TEST(PrefixHasher, FollowsTheVerifiedPrefixInAnyOrderAndMatchesTheTargetHash) {
  Fixture f(37 * 4096 + 1000);
  PrefixHasher h(*f.blocks, *f.storage);
  for (std::uint64_t b : f.shuffled(1)) {
    f.deliver(h, b);
    EXPECT_EQ(h.hashed_blocks(), f.blocks->verified_prefix()) << "after block " << b;
  }
  EXPECT_EQ(h.hashed_blocks(), f.meta.block_count());
  EXPECT_GT(h.hashed_from_memory(), 0u);
  EXPECT_LT(h.hashed_from_memory(), f.meta.block_count())
      << "a shuffled order must need some read-back";
  EXPECT_EQ(h.finish(), f.meta.target_hash);
}

TEST(PrefixHasher, InOrderDeliveryHashesEveryBlockFromMemory) {
  Fixture f(10 * 4096);
  PrefixHasher h(*f.blocks, *f.storage);
  for (std::uint64_t b = 0; b < f.meta.block_count(); ++b) f.deliver(h, b);
  EXPECT_EQ(h.hashed_from_memory(), f.meta.block_count());
  EXPECT_EQ(h.finish(), f.meta.target_hash);
}

TEST(PrefixHasher, BlocksVerifiedBeforeItStartedAreReadBack) {
  // A resumed download: the first half was verified at start-up.
  Fixture f(20 * 4096);
  for (std::uint64_t b = 0; b < 10; ++b) {
    f.storage->write_block(b, f.block(b));
    f.blocks->set_verified(b);
  }
  PrefixHasher h(*f.blocks, *f.storage);
  h.advance();
  EXPECT_EQ(h.hashed_blocks(), 10u);
  EXPECT_EQ(h.hashed_from_memory(), 0u);
  for (std::uint64_t b = 19; b >= 10; --b) f.deliver(h, b, false);
  EXPECT_EQ(h.finish(), f.meta.target_hash);
}

TEST(PrefixHasher, TellsStorageWhatItHashedSoOnlyThatIsEvictedOnceDurable) {
  if (::sysconf(_SC_PAGESIZE) != 4096) GTEST_SKIP() << "the blocks here are 4096-byte pages";
  Fixture f(8 * 4096 + 100);
  PrefixHasher h(*f.blocks, *f.storage);
  f.deliver(h, 0);
  f.deliver(h, 2);  // ahead of the prefix: not hashed yet
  f.storage->sync();
  f.storage->drop_behind();
  EXPECT_EQ(f.storage->dropped_below(), 4096u);
  f.deliver(h, 1);  // the prefix reaches block 2, but no sync since
  f.storage->drop_behind();
  EXPECT_EQ(f.storage->dropped_below(), 4096u);
  f.storage->sync();
  f.storage->drop_behind();
  EXPECT_EQ(f.storage->dropped_below(), 3 * 4096u);
  for (std::uint64_t b = 3; b < f.meta.block_count(); ++b) f.deliver(h, b);
  EXPECT_EQ(h.finish(), f.meta.target_hash);
  f.storage->sync();
  f.storage->drop_behind();
  EXPECT_EQ(f.storage->dropped_below(), f.meta.target_size) << "the last, partial page too";
}

TEST(PrefixHasher, ConcurrentVerifiersNeverLoseABlock) {
  for (std::uint64_t round = 0; round < 20; ++round) {
    Fixture f(64 * 4096 + 17 + round);
    PrefixHasher h(*f.blocks, *f.storage);
    const auto order = f.shuffled(round);
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (std::size_t i = next++; i < order.size(); i = next++) f.deliver(h, order[i]);
      });
    for (auto& t : threads) t.join();
    // Every advance() has returned: whatever was verified must be hashed already.
    EXPECT_EQ(h.hashed_blocks(), f.meta.block_count()) << "round " << round;
    EXPECT_EQ(h.finish(), f.meta.target_hash) << "round " << round;
  }
}

TEST(PrefixHasher, AVerifierWhoseBlockIsNextWaitsForTheBusyOneAndHashesFromMemory) {
  // Two verifiers taking turns on blocks arriving in order, as a connection's two pool jobs do: the
  // second marks its block verified while the first is still hashing the one before. Without the
  // hand-off the busy one reads the second's block back (about half the blocks); with it, the
  // second waits and hashes its block from its buffer.
  Fixture f(24ull << 20, 1 << 20);
  PrefixHasher h(*f.blocks, *f.storage);
  std::atomic<std::uint64_t> turn{0};  // the next block to be marked verified
  auto verifier = [&](std::uint64_t first) {
    for (std::uint64_t b = first; b < f.meta.block_count(); b += 2) {
      f.storage->write_block(b, f.block(b));
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (turn.load() != b && std::chrono::steady_clock::now() < give_up)
        std::this_thread::yield();
      ASSERT_EQ(turn.load(), b) << "the other verifier stopped";
      f.blocks->set_verified(b);
      turn.store(b + 1);  // the other verifier's block may now be marked while this one hashes
      h.advance(b, f.block(b));
    }
  };
  std::thread even(verifier, 0), odd(verifier, 1);
  even.join();
  odd.join();
  EXPECT_EQ(h.hashed_blocks(), f.meta.block_count());
  EXPECT_GE(h.hashed_from_memory(), f.meta.block_count() * 3 / 4);
  EXPECT_EQ(h.finish(), f.meta.target_hash);
}

TEST(PrefixHasher, FinishRefusesAnIncompleteFile) {
  Fixture f(4 * 4096);
  PrefixHasher h(*f.blocks, *f.storage);
  f.deliver(h, 0);
  EXPECT_THROW(h.finish(), std::logic_error);
}

TEST(PrefixHasher, AReadErrorIsReportedByFinishNeverAsAWrongDigest) {
  Fixture f(8 * 4096);
  PrefixHasher h(*f.blocks, *f.storage);
  // Blocks marked verified whose bytes are not on disk: reading them back fails.
  for (std::uint64_t b = 0; b < 8; ++b) f.blocks->set_verified(b);
  EXPECT_NO_THROW(h.advance());
  EXPECT_THROW(h.finish(), FileError);
  // Once the bytes are there, finish() hashes the whole file again and gets it right.
  for (std::uint64_t b = 0; b < 8; ++b) f.storage->write_block(b, f.block(b));
  EXPECT_EQ(h.finish(), f.meta.target_hash);
}

TEST(PrefixHasher, EmptyFileHasTheDigestOfNothing) {
  Fixture f(0);
  PrefixHasher h(*f.blocks, *f.storage);
  h.advance();
  EXPECT_EQ(h.finish(), sha256({}));
  EXPECT_EQ(h.finish(), f.meta.target_hash);
}
