#include "peer/block_map.hpp"

#include <gtest/gtest.h>

#include <set>

#include "peer/block_server.hpp"
#include "peer/create.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;

namespace {
const BlockSet nothing;
const PickExclusions none{nothing, nothing};
// The "don't have" set of a peer that holds only block `keep` of `count`.
BlockSet all_but(std::uint64_t count, std::uint64_t keep) {
  BlockSet s;
  for (std::uint64_t b = 0; b < count; ++b)
    if (b != keep) s.insert(b);
  return s;
}
}  // namespace

TEST(BlockMap, FixtureRoundTrips) {
  EXPECT_EQ(BlockMap::from_string("VV.?V")->to_string(), "VV.?V");
  EXPECT_THROW(BlockMap::from_string("VX"), std::invalid_argument);
}

TEST(BlockMap, PicksOnlyMissingBlocksNobodyIsFetching) {
  auto m = BlockMap::from_string("VV.?V.");
  std::mt19937_64 rng(1);
  std::set<std::uint64_t> picked;
  for (int i = 0; i < 2; ++i) picked.insert(*m->pick(rng, none));
  EXPECT_EQ(picked, (std::set<std::uint64_t>{2, 5}));
  EXPECT_EQ(m->to_string(), "VV??V?");
}

TEST(BlockMap, SkipsBlocksThePeerDoesNotHave) {
  auto m = BlockMap::from_string("....");
  std::mt19937_64 rng(2);
  for (int i = 0; i < 20; ++i) {
    const BlockSet lacks = all_but(4, 3);
    auto b = m->pick(rng, {nothing, lacks});
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, 3u);
    m->finish(*b, false);
  }
  const BlockSet everything = all_but(4, 99);
  EXPECT_FALSE(m->pick(rng, {nothing, everything}));
}

TEST(BlockMap, PrefersWhatThePeerSaidItHolds) {
  // The peer said it holds 1, 3 and 5; 1 is verified here, 3 is being fetched from another peer.
  auto m = BlockMap::from_string(".V.?..");
  const std::vector<std::uint64_t> holds{1, 3, 5};
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    std::mt19937_64 rng(seed);
    const auto b = m->pick(rng, {nothing, nothing, &holds});
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, 5u) << seed;
    m->finish(*b, false);
  }
  // Told "don't have" for 5 since: the usual pick, among the rest.
  const BlockSet lacks{5};
  std::mt19937_64 rng(1);
  const auto b = m->pick(rng, {nothing, lacks, &holds});
  ASSERT_TRUE(b);
  EXPECT_TRUE(*b == 0 || *b == 2 || *b == 4) << *b;
  // In endgame a second copy of what the peer holds comes first too.
  const std::vector<std::uint64_t> holds3{3};
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    auto e = BlockMap::from_string("??V?");
    std::mt19937_64 r(seed);
    EXPECT_EQ(e->pick(r, {nothing, nothing, &holds3}), 3u) << seed;
    const auto d = e->pick(r, {nothing, nothing, &holds3});  // 3 is out twice now
    ASSERT_TRUE(d);
    EXPECT_TRUE(*d == 0 || *d == 1) << *d;
  }
  // The window does not hold a hinted pick back.
  auto w = BlockMap::from_string("........");
  w->set_window(2);
  const std::vector<std::uint64_t> holds7{7};
  EXPECT_EQ(w->pick(rng, {nothing, nothing, &holds7}), 7u);
}

TEST(BlockMap, AHintedPickLooksAtABoundedPartOfAHugeHint) {
  // 100,000 hinted blocks, all but one verified here: the look is bounded, so the one missing
  // block is found only by the usual pick that follows; and a hint past the end is never picked.
  std::string fixture(100'000, 'V');
  fixture[99'999] = '.';
  auto m = BlockMap::from_string(fixture);
  std::vector<std::uint64_t> holds(100'000);
  for (std::uint64_t b = 0; b < holds.size(); ++b) holds[b] = b;
  holds.push_back(200'000);
  std::mt19937_64 rng(4);
  EXPECT_EQ(m->pick(rng, {nothing, nothing, &holds}), 99'999u);
  std::vector<std::uint64_t> kept = holds;
  m->keep_missing(kept);
  EXPECT_EQ(kept, (std::vector<std::uint64_t>{99'999})) << "verified and out-of-range dropped";
}

TEST(BlockMap, PickOrderIsRandomSoConcurrentDownloadersDiffer) {
  std::set<std::uint64_t> firsts;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    BlockMap m(1000);
    std::mt19937_64 rng(seed);
    firsts.insert(*m.pick(rng, none));
  }
  EXPECT_GT(firsts.size(), 15u);
}

TEST(BlockMap, WindowKeepsPicksRandomButNearTheFirstMissingBlock) {
  BlockMap m(1000);
  m.set_window(50);
  for (std::uint64_t b = 0; b < 100; ++b) m.set_verified(b);
  m.set_verified(101);
  EXPECT_EQ(m.verified_prefix(), 100u);
  std::mt19937_64 rng(4);
  std::set<std::uint64_t> picked;
  for (int i = 0; i < 40; ++i) {
    const auto b = m.pick(rng, none);
    ASSERT_TRUE(b);
    EXPECT_GE(*b, 100u);
    EXPECT_LT(*b, 150u) << "outside the window while the window still had blocks";
    EXPECT_NE(*b, 101u);
    picked.insert(*b);
  }
  EXPECT_EQ(picked.size(), 40u);
  // Not in order: a sequential picker would have taken exactly 100..140 (without 101).
  EXPECT_NE(*picked.rbegin(), 140u);
  // The window follows the prefix as it grows.
  for (std::uint64_t b : picked) m.finish(b, true);
  std::uint64_t expected = 100;
  while (picked.contains(expected) || expected == 101) ++expected;
  EXPECT_EQ(m.verified_prefix(), expected) << m.to_string();
  const auto next = m.pick(rng, none);
  ASSERT_TRUE(next);
  EXPECT_GE(*next, expected);
  EXPECT_LT(*next, expected + 50);
}

TEST(BlockMap, InOrderPicksTheLowestEligibleBlockInTheWindow) {
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    auto m = BlockMap::from_string("V?.V....");
    m->set_window(7);  // blocks 1 to 7, after the verified prefix
    m->set_in_order(true);
    std::mt19937_64 rng(seed);
    EXPECT_EQ(m->pick(rng, none), 2u) << seed;
    const BlockSet lacks{4};
    EXPECT_EQ(m->pick(rng, {nothing, lacks}), 5u) << "skipping what the peer lacks";
    // What the peer said it holds still comes first, the lowest of it (hints are ascending).
    const std::vector<std::uint64_t> holds{6, 7};
    EXPECT_EQ(m->pick(rng, {nothing, nothing, &holds}), 6u) << seed;
    EXPECT_EQ(m->pick(rng, none), 4u);
    EXPECT_EQ(m->pick(rng, none), 7u);
    // Endgame: the lowest block in flight fewer than twice (the one this connection holds skipped).
    const BlockSet held{1};
    EXPECT_EQ(m->pick(rng, {held, nothing}), 2u);
    EXPECT_EQ(m->to_string(), "V??V????");
  }
  // Once the window has nothing to give, the usual random pick beyond it (a bounded look).
  std::set<std::uint64_t> beyond;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    BlockMap m(1000);
    m.set_window(10);
    m.set_in_order(true);
    std::mt19937_64 rng(seed);
    for (std::uint64_t b = 0; b < 10; ++b) EXPECT_EQ(m.pick(rng, none), b);
    const auto next = m.pick(rng, none);
    ASSERT_TRUE(next);
    EXPECT_GE(*next, 10u);
    beyond.insert(*next);
  }
  EXPECT_GT(beyond.size(), 5u);
}

TEST(BlockMap, WindowWithNothingLeftFallsBackToAnyAvailableBlock) {
  auto m = BlockMap::from_string("??.?..");
  m->set_window(2);  // the window (blocks 0 and 1) is all in flight
  std::mt19937_64 rng(5);
  const auto b = m->pick(rng, none);
  ASSERT_TRUE(b);
  EXPECT_TRUE(*b == 2 || *b == 4 || *b == 5) << *b;
  // A peer that holds only block 5: the window is skipped for it, block 5 is still picked.
  const BlockSet lacks = all_but(6, 5);
  const auto c = m->pick(rng, {nothing, lacks});
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, 5u);
}

TEST(BlockMap, EndgameRequestsAnInFlightBlockFromASecondSourceAtMostTwice) {
  auto m = BlockMap::from_string("V?V");
  std::mt19937_64 rng(3);
  auto b = m->pick(rng, none);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, 1u);
  EXPECT_FALSE(m->pick(rng, none)) << "a third request for the same block";
  EXPECT_FALSE(m->pick(rng, none, 1)) << "no duplicates allowed";
}

// A block asked of two sources (endgame) is written by one request only, and by none once it is
// verified; a failed write gives the claim back.
TEST(BlockMap, OneRequestClaimsABlocksWriteAndNoneOnceItIsVerified) {
  auto m = BlockMap::from_string("V?.");
  EXPECT_FALSE(m->claim_write(0)) << "verified already";
  EXPECT_TRUE(m->claim_write(1));
  EXPECT_FALSE(m->claim_write(1)) << "being written by another request";
  m->drop_write(1);  // that write failed
  EXPECT_TRUE(m->claim_write(1));
  EXPECT_FALSE(m->finish(1, false)) << "the other request, which wrote nothing";
  EXPECT_FALSE(m->verified(1));
  EXPECT_TRUE(m->finish(1, true));
  EXPECT_FALSE(m->claim_write(1)) << "verified now";
  EXPECT_TRUE(m->claim_write(2));
}

// The connection's own record: in endgame it is never given a block it has asked for or is
// still verifying, whichever of the two states the block is in.
TEST(BlockMap, EndgameNeverGivesAConnectionABlockItHolds) {
  auto m = BlockMap::from_string("V??");
  std::mt19937_64 rng(7);
  InFlight record;
  record.requested(1);
  record.requested(2);
  record.received();  // block 1 arrived and is being verified; block 2 is still outstanding
  EXPECT_FALSE(m->pick(rng, {record.blocks(), nothing})) << m->to_string();
  record.verdict(1);  // block 1's verdict came back (not verified here): it may be asked again
  const auto b = m->pick(rng, {record.blocks(), nothing});
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, 1u);
}

TEST(BlockMap, FinishVerifiedCountsOnceAndFailedReturnsTheBlock) {
  auto m = BlockMap::from_string("..");
  std::mt19937_64 rng(4);
  const BlockSet only_0 = all_but(2, 0);
  const auto a = *m->pick(rng, {nothing, only_0});
  EXPECT_EQ(m->to_string(), "?.");
  EXPECT_FALSE(m->finish(a, false));
  EXPECT_EQ(m->to_string(), "..");
  EXPECT_FALSE(m->verified(0));
  m->pick(rng, {nothing, only_0});
  m->pick(rng, none);  // endgame duplicate of block 0? no: block 1 is still available
  EXPECT_EQ(m->to_string(), "??");
  EXPECT_TRUE(m->finish(0, true));
  EXPECT_FALSE(m->finish(0, true)) << "a second copy of a verified block is not new";
  EXPECT_EQ(m->verified_count(), 1u);
  EXPECT_TRUE(m->finish(1, true));
  EXPECT_TRUE(m->complete());
  EXPECT_FALSE(m->pick(rng, none));
}

TEST(BlockMap, AFailedDuplicateDoesNotUnverifyOrResurrectABlock) {
  auto m = BlockMap::from_string("?");
  std::mt19937_64 rng(5);
  ASSERT_TRUE(m->pick(rng, none));  // second request (endgame)
  EXPECT_TRUE(m->finish(0, true));
  EXPECT_FALSE(m->finish(0, false));
  EXPECT_EQ(m->to_string(), "V");
}

TEST(BlockMap, EmptyFileIsCompleteAtOnce) {
  BlockMap m(0);
  EXPECT_TRUE(m.complete());
  std::mt19937_64 rng(6);
  EXPECT_FALSE(m.pick(rng, none));
}

TEST(ServingMessages, NotHeldMessageMatchesTheVector) {
  EXPECT_EQ(not_held_message(2),
            test::vectors()["peer_error_response_not_held"]["message"].get<std::string>());
}

TEST(DataPath, IsTheCascadePathWithoutItsLastExtension) {
  EXPECT_EQ(default_data_path("dir/movie.mp4.cascade"), "dir/movie.mp4");
  EXPECT_EQ(default_data_path("a.cascade"), "a");
  EXPECT_EQ(default_data_path("dir.x/noext"), "dir.x/noext.data");
}

TEST(BlockMap, HoldingsGiveTheFlagsTheirCountAndTheLeadingRunTogether) {
  BlockMap m(10);
  auto h = m.holdings();
  EXPECT_EQ(h.count, 0u);
  EXPECT_EQ(h.prefix, 0u);
  EXPECT_EQ(h.end, 0u);
  for (std::uint64_t b : {0, 1, 2, 5, 9}) m.set_verified(b);
  h = m.holdings();
  EXPECT_EQ(h.verified,
            (std::vector<bool>{true, true, true, false, false, true, false, false, false, true}));
  EXPECT_EQ(h.count, 5u);
  EXPECT_EQ(h.prefix, 3u);
  EXPECT_EQ(h.end, 10u);
  m.set_verified(3);
  m.set_verified(4);
  EXPECT_EQ(m.holdings().prefix, 6u);
  BlockMap early(10);
  early.set_verified(4);
  EXPECT_EQ(early.holdings().end, 5u);
}
