// The pipeline rules and a connection's InFlight record.
#include "peer/fetch_policy.hpp"

#include <gtest/gtest.h>

#include <random>

#include "peer/block_map.hpp"
#include "peer/in_flight.hpp"

using namespace cascade;

TEST(FetchPolicy, PipelineKeepsAbout4MiBInFlightWithinBounds) {
  EXPECT_EQ(pipeline_depth(0, 1 << 20), 4u);
  EXPECT_EQ(pipeline_depth(0, 256 << 10), 16u);
  EXPECT_EQ(pipeline_depth(0, 64 << 10), 64u);
  EXPECT_EQ(pipeline_depth(0, 4 << 10), 64u) << "at most 64 requests";
  EXPECT_EQ(pipeline_depth(0, 16 << 20), 4u) << "at least 4";
  EXPECT_EQ(pipeline_depth(7, 64 << 10), 7u) << "--pipeline wins";
  EXPECT_EQ(pipeline_depth(0, 0), 64u) << "no division by zero";
}

TEST(FetchPolicy, BuffersHoldAbout2MiBWithinBounds) {
  EXPECT_EQ(buffers_for(1 << 20), 3u);
  EXPECT_EQ(buffers_for(256 << 10), 8u);
  EXPECT_EQ(buffers_for(16 << 10), 64u);
}

TEST(FetchPolicy, RequestsGoOutInBatchesOnceHalfThePipelineIsAnswered) {
  const std::size_t pipeline = 8;
  EXPECT_TRUE(ask_for_more(0, 0, pipeline));
  EXPECT_TRUE(ask_for_more(4, 0, pipeline)) << "half answered: top up";
  EXPECT_FALSE(ask_for_more(5, 0, pipeline)) << "not yet half: wait, so requests go out together";
  EXPECT_TRUE(ask_for_more(7, 3, pipeline)) << "a top-up fills the pipeline";
  EXPECT_FALSE(ask_for_more(8, 4, pipeline));
  // A whole top-up from 4 outstanding picks exactly 4.
  std::size_t outstanding = 4, batch = 0;
  while (ask_for_more(outstanding, batch, pipeline)) ++outstanding, ++batch;
  EXPECT_EQ(batch, 4u);
}

TEST(FetchPolicy, TheDepthFollowsTheMeasuredRateWithinBounds) {
  const std::uint64_t block = 256 << 10;
  // A share of a 100 Mbit/s uplink: 1.5 MB/s keeps a tenth of a second's 0.6 blocks, + 1: 1.
  EXPECT_EQ(depth_for_rate(1.5e6, block, 16), 1u);
  EXPECT_EQ(depth_for_rate(0, block, 16), least_depth) << "never fewer than the least";
  EXPECT_EQ(least_depth, 1u);
  // 12.5 MB/s (a whole 100 Mbit/s link): 1.25 MB in a tenth of a second, 4.8 blocks + 1.
  EXPECT_EQ(depth_for_rate(12.5e6, block, 16), 5u);
  EXPECT_EQ(depth_for_rate(2e9, block, 16), 16u) << "loopback: the most";
  EXPECT_EQ(depth_for_rate(2e9, block, 0), least_depth) << "the least wins over a tiny most";
  // A long link: at one request per 200 ms round trip a connection measures 1.3 MB/s; the round
  // trip counts too, so the depth grows (2, not 1) and keeps growing as the rate it allows shows.
  EXPECT_EQ(depth_for_rate(1.3e6, block, 16), 1u);
  EXPECT_EQ(depth_for_rate(1.3e6, block, 16, 0.2), 2u);
  EXPECT_EQ(depth_for_rate(2.6e6, block, 16, 0.2), 3u);
}

TEST(FetchPolicy, APeerWithAnAnswerLimitIsAskedForNoMoreThanItAnswers) {
  EXPECT_TRUE(may_ask(0, 0, 63)) << "no limit seen";
  // Limit 5: five requests at once, no sixth while any is pending.
  std::size_t outstanding = 0;
  while (may_ask(5, 0, outstanding)) ++outstanding;
  EXPECT_EQ(outstanding, 5u);
  EXPECT_FALSE(may_ask(5, 4, 1));
  // Past the limit: one at a time ...
  EXPECT_TRUE(may_ask(5, 5, 0));
  EXPECT_FALSE(may_ask(5, 6, 1));
  EXPECT_TRUE(may_ask(5, 9, 0));
  // ... until twice the limit is answered: then the pipeline is whole again.
  EXPECT_TRUE(may_ask(5, 10, 7));
  // Limit 1: one request per connection's first answer, as the simple leecher does.
  EXPECT_TRUE(may_ask(1, 0, 0));
  EXPECT_FALSE(may_ask(1, 0, 1));
}

TEST(FetchPolicy, TheWindowHoldsAtLeastTwiceWhatAllConnectionsHaveInFlight) {
  EXPECT_EQ(window_blocks(0, 1 << 20, 8, 4), 0u) << "0: no window";
  EXPECT_EQ(window_blocks(64ull << 20, 1 << 20, 8, 4), 64u);
  EXPECT_EQ(window_blocks(64ull << 20, 64 << 10, 8, 64), 1024u);
  EXPECT_EQ(window_blocks(1 << 20, 64 << 10, 8, 64), 1024u) << "a small window grows to 2 x 8 x 64";
}

TEST(InFlight, TracksRequestsInOrderUntilEachVerdict) {
  InFlight r;
  EXPECT_FALSE(r.waiting());
  r.requested(5);
  r.requested(9);
  r.requested(2);
  EXPECT_EQ(r.oldest(), 5u);
  EXPECT_EQ(r.outstanding(), 3u);
  r.received();  // 5 arrived: it is checked now, still held
  EXPECT_EQ(r.oldest(), 9u);
  EXPECT_EQ(r.checking(), 1u);
  EXPECT_EQ(r.blocks(), (BlockSet{5, 9, 2}));
  r.refused();  // 9: "don't have"
  EXPECT_EQ(r.blocks(), (BlockSet{5, 2}));
  r.verdict(5);
  EXPECT_EQ(r.checking(), 0u);
  EXPECT_EQ(r.blocks(), (BlockSet{2}));
  EXPECT_EQ(r.abandon(), (std::vector<std::uint64_t>{2}));
  EXPECT_TRUE(r.blocks().empty());
  EXPECT_FALSE(r.waiting());
}

TEST(InFlight, AbandonKeepsTheBlocksStillBeingVerified) {
  InFlight r;
  r.requested(1);
  r.requested(2);
  r.received();
  EXPECT_EQ(r.abandon(), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(r.blocks(), (BlockSet{1})) << "its verdict is still to come";
}

TEST(FetchPolicy, InEndgameOnlyAConnectionWithNothingInFlightAsksForASecondCopyOfTheLastBlocks) {
  constexpr std::uint64_t mib = 1 << 20;
  // The last blocks: as many as one connection's default pipeline holds.
  EXPECT_EQ(endgame_blocks(mib), 4u);
  EXPECT_EQ(endgame_blocks(256 * 1024), 16u);
  EXPECT_EQ(endgame_blocks(16 * 1024), 64u);
  EXPECT_EQ(endgame_blocks(64 * mib), 4u);
  EXPECT_EQ(endgame_copies(0, 1, mib), 2u);
  EXPECT_EQ(endgame_copies(0, 4, mib), 2u);
  EXPECT_EQ(endgame_copies(0, 5, mib), 1u) << "too many left: no second copies yet";
  EXPECT_EQ(endgame_copies(0, 16, 256 * 1024), 2u);
  EXPECT_EQ(endgame_copies(1, 1, mib), 1u);
  EXPECT_EQ(endgame_copies(7, 2, mib), 1u);
  // Every missing block is in flight once: the map gives a second copy only to an idle connection.
  auto map = BlockMap::from_string("VV??");
  const BlockSet none;
  std::mt19937_64 rng(3);
  EXPECT_FALSE(map->pick(rng, PickExclusions{none, none}, endgame_copies(1, 2, mib)));
  const auto second = map->pick(rng, PickExclusions{none, none}, endgame_copies(0, 2, mib));
  ASSERT_TRUE(second);
  EXPECT_TRUE(*second == 2 || *second == 3);
  map->finish(*second, false);  // one of its two requests ends
  EXPECT_EQ(map->to_string()[*second], '?') << "the other is still out: " << map->to_string();
  // With more blocks missing than that, an idle connection gets nothing either.
  auto early = BlockMap::from_string("V?????");
  EXPECT_FALSE(early->pick(rng, PickExclusions{none, none}, endgame_copies(0, 5, mib)));
}

TEST(FetchPolicy, AConnectionHashesWhatItReadOnlyBesideOthersAndOnlyWhatFitsACache) {
  EXPECT_FALSE(hash_on_read(0, 1 << 20));
  EXPECT_FALSE(hash_on_read(1, 1 << 20));  // the file's only connection: the pool hashes
  EXPECT_TRUE(hash_on_read(2, 1 << 20));
  EXPECT_TRUE(hash_on_read(16, 16 * 1024));
  EXPECT_TRUE(hash_on_read(2, hash_on_read_bytes));
  EXPECT_FALSE(hash_on_read(2, hash_on_read_bytes + 1));
  EXPECT_FALSE(hash_on_read(16, 64ull << 20));
}
