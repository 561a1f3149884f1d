#include "tracker/registry.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace cascade;

namespace {
Hash256 hash_of(std::uint8_t b) {
  Hash256 h{};
  h.fill(b);
  return h;
}
Endpoint ep(std::uint32_t n) {
  return Endpoint{0x0a000000 + n, static_cast<std::uint16_t>(7000 + n)};
}
Registry make(std::uint64_t ttl = 1800, std::size_t report = 20,
              std::size_t max_peers = 1'000'000) {
  return Registry(Registry::Options{ttl, report, max_peers, 42});
}
std::vector<PeerEntry> list(Registry& r, const Hash256& h, Endpoint asker, std::uint64_t now) {
  std::vector<PeerEntry> out;
  r.list(h, asker, now, out);
  return out;
}
}  // namespace

TEST(Registry, ListsAtMostTheConfiguredNumberNeverTheAskerGoodFirst) {
  Registry r = make();
  const Hash256 h = hash_of(1);
  for (std::uint32_t i = 0; i < 25; ++i) r.subscribe(h, ep(i), /*good=*/i % 5 == 0, 1000);
  for (int round = 0; round < 20; ++round) {
    auto peers = list(r, h, ep(3), 1000);
    ASSERT_EQ(peers.size(), 20u);
    std::set<std::uint64_t> seen;
    bool in_good = true;
    int goods = 0;
    for (const auto& p : peers) {
      EXPECT_FALSE(p.ip == ep(3).ip && p.port == ep(3).port);
      EXPECT_TRUE(seen.insert(Endpoint{p.ip, p.port}.key()).second) << "duplicate";
      EXPECT_EQ(p.last_seen, 1000u);
      if (!p.good)
        in_good = false;
      else
        EXPECT_TRUE(in_good) << "good peer after an ordinary one";
      goods += p.good;
    }
    EXPECT_EQ(goods, 5);  // all five good peers always make the cut
  }
}

TEST(Registry, OrderIsRandomised) {
  Registry r = make();
  const Hash256 h = hash_of(1);
  for (std::uint32_t i = 0; i < 10; ++i) r.subscribe(h, ep(i), false, 1000);
  std::set<std::vector<std::uint32_t>> orders;
  for (int round = 0; round < 20; ++round) {
    std::vector<std::uint32_t> order;
    for (const auto& p : list(r, h, ep(99), 1000)) order.push_back(p.ip);
    orders.insert(order);
  }
  EXPECT_GT(orders.size(), 10u);
}

TEST(Registry, LargeSwarmSamplesDistinctLivePeers) {
  Registry r = make();
  const Hash256 h = hash_of(2);
  for (std::uint32_t i = 0; i < 5000; ++i) r.subscribe(h, ep(i), false, 1000);
  auto peers = list(r, h, ep(0), 1000);
  ASSERT_EQ(peers.size(), 20u);
  std::set<std::uint32_t> ips;
  for (const auto& p : peers) ips.insert(p.ip);
  EXPECT_EQ(ips.size(), 20u);
}

TEST(Registry, SwarmsAreSeparate) {
  Registry r = make();
  r.subscribe(hash_of(1), ep(1), false, 1000);
  r.subscribe(hash_of(2), ep(2), false, 1000);
  auto peers = list(r, hash_of(1), ep(99), 1000);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].ip, ep(1).ip);
  EXPECT_TRUE(list(r, hash_of(3), ep(99), 1000).empty());
}

TEST(Registry, PeersExpireAfterTheTtlUnlessRefreshed) {
  Registry r = make(/*ttl=*/100);
  const Hash256 h = hash_of(1);
  r.subscribe(h, ep(1), false, 1000);
  r.subscribe(h, ep(2), false, 1000);
  r.subscribe(h, ep(3), false, 1050);
  r.subscribe(h, ep(1), false, 1080);  // refreshed
  EXPECT_EQ(list(r, h, ep(99), 1099).size(), 3u);
  auto at_1100 = list(r, h, ep(99), 1100);  // ep(2) seen at 1000: gone
  ASSERT_EQ(at_1100.size(), 2u);
  for (const auto& p : at_1100) EXPECT_NE(p.ip, ep(2).ip);
  EXPECT_EQ(list(r, h, ep(99), 1150).size(), 1u);  // only ep(1), refreshed at 1080
  EXPECT_EQ(list(r, h, ep(99), 1180).size(), 0u);
  EXPECT_EQ(r.counts().peers, 0u);
  EXPECT_EQ(r.counts().swarms, 0u);
}

TEST(Registry, SweepDropsExpiredPeersInEverySwarm) {
  Registry r = make(/*ttl=*/10);
  for (std::uint8_t s = 0; s < 5; ++s)
    for (std::uint32_t i = 0; i < 10; ++i) r.subscribe(hash_of(s), ep(i), false, 100 + i);
  EXPECT_EQ(r.counts().peers, 50u);
  EXPECT_EQ(r.sweep(115), 30u);  // seen at 100..105 are gone
  EXPECT_EQ(r.counts().peers, 20u);
  EXPECT_EQ(r.sweep(200), 20u);
  EXPECT_EQ(r.counts().swarms, 0u);
}

TEST(Registry, RefreshedHeadDoesNotShieldExpiredPeersBehindIt) {
  Registry r = make(/*ttl=*/10);
  const Hash256 h = hash_of(1);
  r.subscribe(h, ep(1), false, 100);
  r.subscribe(h, ep(2), false, 101);
  for (std::uint64_t t = 102; t <= 109; ++t) r.subscribe(h, ep(1), false, t);
  EXPECT_EQ(r.sweep(115), 1u);  // ep(2) dropped although ep(1), still live, was queued before it
  EXPECT_EQ(r.counts().peers, 1u);
}

TEST(Registry, ChangingTheGoodFlagMovesThePeer) {
  Registry r = make();
  const Hash256 h = hash_of(1);
  r.subscribe(h, ep(1), false, 1000);
  r.subscribe(h, ep(1), true, 1001);
  auto peers = list(r, h, ep(99), 1001);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_TRUE(peers[0].good);
  EXPECT_EQ(r.counts().peers, 1u);
}

TEST(Registry, RefusesNewPeersWhenFullButRefreshesKnownOnes) {
  Registry r = make(1800, 20, /*max_peers=*/2);
  const Hash256 h = hash_of(1);
  EXPECT_EQ(r.subscribe(h, ep(1), false, 1000), Registry::SubscribeResult::recorded);
  EXPECT_EQ(r.subscribe(h, ep(2), false, 1000), Registry::SubscribeResult::recorded);
  EXPECT_EQ(r.subscribe(h, ep(3), false, 1000), Registry::SubscribeResult::full);
  EXPECT_EQ(r.subscribe(hash_of(2), ep(3), false, 1000), Registry::SubscribeResult::full);
  EXPECT_EQ(r.subscribe(h, ep(1), false, 1001), Registry::SubscribeResult::recorded);
  EXPECT_EQ(r.counts().swarms, 1u);
}
