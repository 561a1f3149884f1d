// Verifier::check: a block is verified only when its SHA-256 matched, whether the verifier
// compares it or the connection that read it already did (fetch.cpp compares on its own thread
// while other connections receive); a "did not match" from the connection is believed even for
// the right bytes, so nothing the caller found wrong is ever written or counted.
#include "peer/verifier.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/thread_pool.hpp"
#include "peer/create.hpp"
#include "tests/support/process.hpp"

using namespace cascade;

namespace {
struct Download {
  Download() {
    for (int i = 0; i < 3 * 4096; ++i) original += static_cast<char>('a' + (i * 7) % 26);
    dir.write("data", original);
    file = std::make_shared<SharedFile>(dir.file("data.cascade"), dir.file("copy"),
                                        make_cascade(dir.file("data"), 4096, pool), Hash256{});
    file->storage = std::make_unique<Storage>(file->data_path, file->meta);
    verifier = std::make_shared<Verifier>(
        file, [this](const Fatal&) { ++fatal; }, [] {});
  }
  ByteSpan block(std::uint64_t b) const {
    return ByteSpan(reinterpret_cast<const std::uint8_t*>(original.data()) + b * 4096, 4096);
  }
  test::TempDir dir;
  ThreadPool pool{1};
  std::string original;
  std::shared_ptr<SharedFile> file;
  std::shared_ptr<Verifier> verifier;
  int fatal = 0;
};
}  // namespace

TEST(Verifier, ComparesTheHashItselfUnlessTheCallerDid) {
  Download d;
  // Compared here: the right bytes verify, another block's bytes do not.
  EXPECT_EQ(d.verifier->check(0, d.block(0), "a"), Verifier::Verdict::ok);
  EXPECT_EQ(d.verifier->check(1, d.block(2), "a"), Verifier::Verdict::bad);
  EXPECT_TRUE(d.file->blocks.verified(0));
  EXPECT_FALSE(d.file->blocks.verified(1));
  // Compared by the caller: its word decides, and a mismatch is a bad block even for bytes that
  // would have matched (so a caller's verdict is never second-guessed into a write).
  EXPECT_EQ(d.verifier->check(1, d.block(1), "b", false), Verifier::Verdict::bad);
  EXPECT_FALSE(d.file->blocks.verified(1));
  EXPECT_EQ(d.file->stats.bad_blocks.load(), 2u);
  EXPECT_EQ(d.verifier->check(1, d.block(1), "b", true), Verifier::Verdict::ok);
  EXPECT_EQ(d.verifier->check(2, d.block(2), "b", true), Verifier::Verdict::ok);
  EXPECT_TRUE(d.file->blocks.complete());
  EXPECT_EQ(d.file->stats.blocks_verified.load(), 3u);
  // What was written is the file: the whole-file check passes.
  EXPECT_FALSE(d.verifier->check_whole(false).has_value());
  EXPECT_TRUE(d.file->complete.load());
  EXPECT_EQ(d.fatal, 0);
}
