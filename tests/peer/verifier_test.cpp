// Verifier::check: a block is verified only when its length and SHA-256 match the cascade file's,
// whether the verifier computes the digest or the connection that read the block gave it
// (fetch.cpp, hash_on_read): a given digest is compared, never trusted as a verdict; and the
// connection's CheckQueue hands the digest on.
#include "peer/verifier.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/sha256.hpp"
#include "common/thread_pool.hpp"
#include "peer/check_queue.hpp"
#include "peer/create.hpp"
#include "tests/support/process.hpp"

using namespace cascade;

namespace {
constexpr std::size_t block_size = 4096;
constexpr std::size_t size = 3 * block_size - 100;  // the last block is short

struct Download {
  Download() {
    for (std::size_t i = 0; i < size; ++i) original += static_cast<char>('a' + (i * 7) % 26);
    dir.write("data", original);
    file =
        std::make_shared<SharedFile>(dir.file("data.cascade"), dir.file("copy"),
                                     make_cascade(dir.file("data"), block_size, pool), Hash256{});
    file->storage = std::make_unique<Storage>(file->data_path, file->meta);
    verifier = std::make_shared<Verifier>(
        file, [this](const Fatal&) { ++fatal; }, [] {});
  }
  // Block b's bytes in the original.
  ByteSpan bytes(std::uint64_t b) const {
    return ByteSpan(reinterpret_cast<const std::uint8_t*>(original.data()) + b * block_size,
                    file->meta.block_length(b));
  }
  test::TempDir dir;
  ThreadPool pool{1};
  std::string original;
  std::shared_ptr<SharedFile> file;
  std::shared_ptr<Verifier> verifier;
  int fatal = 0;
};
}  // namespace

TEST(Verifier, ComputesTheDigestUnlessGivenAndAlwaysCompares) {
  Download d;
  ASSERT_EQ(d.file->meta.block_count(), 3u);
  // Computed here: the right bytes verify, another block's bytes do not.
  EXPECT_EQ(d.verifier->check(0, d.bytes(0), "a"), Verifier::Verdict::ok);
  EXPECT_EQ(d.verifier->check(1, d.bytes(0), "a"), Verifier::Verdict::bad);
  EXPECT_TRUE(d.file->blocks.verified(0));
  EXPECT_FALSE(d.file->blocks.verified(1));
  // Given: the digest is what is compared (the right bytes with another block's digest fail, so
  // it is not recomputed), and a wrong digest never passes.
  EXPECT_EQ(d.verifier->check(1, d.bytes(1), "b", sha256(d.bytes(0))), Verifier::Verdict::bad);
  EXPECT_FALSE(d.file->blocks.verified(1));
  EXPECT_EQ(d.verifier->check(1, d.bytes(1), "b", sha256(d.bytes(1))), Verifier::Verdict::ok);
  // The length counts too: the short last block's right digest with a full block's bytes (its own
  // and 100 more) fails.
  std::vector<std::uint8_t> longer(d.bytes(2).begin(), d.bytes(2).end());
  longer.resize(block_size, 0);
  EXPECT_EQ(d.verifier->check(2, longer, "b", sha256(d.bytes(2))), Verifier::Verdict::bad);
  EXPECT_FALSE(d.file->blocks.verified(2));
  EXPECT_EQ(d.file->stats.bad_blocks.load(), 3u);
  EXPECT_EQ(d.verifier->check(2, d.bytes(2), "b", sha256(d.bytes(2))), Verifier::Verdict::ok);
  EXPECT_TRUE(d.file->blocks.complete());
  EXPECT_EQ(d.file->stats.blocks_verified.load(), 3u);
  // What was written is the file: the whole-file check passes.
  EXPECT_FALSE(d.verifier->check_whole(false).has_value());
  EXPECT_TRUE(d.file->complete.load());
  EXPECT_EQ(d.fatal, 0);
}

// A block that arrives again once verified (endgame: asked of two sources) is not written again:
// nothing of ours writes a complete file, whose modification time the block server watches.
TEST(Verifier, ABlockArrivingAgainOnceVerifiedIsNotWrittenAgain) {
  Download d;
  for (std::uint64_t b = 0; b < 3; ++b)
    ASSERT_EQ(d.verifier->check(b, d.bytes(b), "a"), Verifier::Verdict::ok);
  ASSERT_FALSE(d.verifier->check_whole(false));
  EXPECT_NE(d.file->verified_mtime_ns.load(), 0);
  // Long ago, so any write now would move it.
  const auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(24);
  std::filesystem::last_write_time(d.file->data_path, old);
  EXPECT_EQ(d.verifier->check(1, d.bytes(1), "b"), Verifier::Verdict::ok);
  EXPECT_EQ(std::filesystem::last_write_time(d.file->data_path), old);
  EXPECT_EQ(d.file->stats.blocks_verified.load(), 3u);
  EXPECT_EQ(d.fatal, 0);
}

TEST(Verifier, TheCheckQueueHandsTheConnectionsDigestOn) {
  // As in the peer, the io_context outlives the pool: a pool job may hold the last reference to the
  // queue, whose timer must be destroyed before its io_context.
  asio::io_context io;
  Download d;
  auto strand = asio::make_strand(io);
  InFlight record;
  auto checks = std::make_shared<CheckQueue>(strand, d.pool, d.verifier, d.file, record, "c");
  // Blocks 0 and 1 read with their right bytes; the "connection" gives block 0's digest for both,
  // so block 0 passes and block 1 fails: the queue handed the digest on (recomputed, it would
  // have passed).
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        for (const std::uint64_t b : {0, 1}) {
          std::vector<std::uint8_t>* buffer = co_await checks->buffer();
          if (buffer == nullptr) co_return;  // a wrong block ends the connection
          std::copy(d.bytes(b).begin(), d.bytes(b).end(), buffer->begin());
          record.requested(b);
          record.received();
          checks->submit(buffer, b, d.bytes(b).size(), sha256(d.bytes(0)));
          co_await checks->drain();
        }
      },
      asio::detached);
  io.run_for(std::chrono::seconds(10));
  EXPECT_EQ(checks->delivered(), 1);
  EXPECT_EQ(checks->bad(), 1);
  EXPECT_TRUE(d.file->blocks.verified(0));
  EXPECT_FALSE(d.file->blocks.verified(1));
  EXPECT_EQ(d.file->stats.bad_blocks.load(), 1u);
}
