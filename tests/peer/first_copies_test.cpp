// FirstCopies: a seed sends every block once before any twice, and never refuses twice.
#include "peer/first_copies.hpp"

#include <gtest/gtest.h>

using namespace cascade;

TEST(FirstCopies, EachBlockGoesOutOnceBeforeAnyTwice) {
  FirstCopies f(4);
  EXPECT_TRUE(f.serve(1, 0));
  EXPECT_FALSE(f.serve(2, 0)) << "block 0 is in the swarm: ask elsewhere";
  EXPECT_TRUE(f.serve(2, 1));
  EXPECT_FALSE(f.serve(1, 1));
  EXPECT_EQ(f.unsent(), 2u);
  EXPECT_FALSE(f.over());
}

TEST(FirstCopies, TheSameAddressAskingAgainIsServed) {
  FirstCopies f(4);
  EXPECT_TRUE(f.serve(1, 0));
  EXPECT_FALSE(f.serve(2, 0));
  EXPECT_TRUE(f.serve(2, 0)) << "asked again: it cannot find it elsewhere";
  EXPECT_FALSE(f.serve(3, 0)) << "another address is told once";
  EXPECT_FALSE(f.serve(2, 0)) << "a new round for the address that was served";
}

TEST(FirstCopies, OnceEveryBlockIsOutEverythingIsServed) {
  FirstCopies f(3);
  for (std::uint64_t b = 0; b < 3; ++b) EXPECT_TRUE(f.serve(1, b));
  EXPECT_TRUE(f.over());
  EXPECT_EQ(f.unsent(), 0u);
  for (std::uint32_t ip = 2; ip < 10; ++ip) EXPECT_TRUE(f.serve(ip, 1));
}

TEST(FirstCopies, ManyAddressesAreBoundedAndServed) {
  FirstCopies f(2);
  EXPECT_TRUE(f.serve(1, 0));
  for (std::uint32_t ip = 0; ip < FirstCopies::max_addresses; ++ip) f.serve(100 + ip, 0);
  EXPECT_TRUE(f.serve(1'000'000, 0)) << "past the address cap: served, memory stays bounded";
  EXPECT_TRUE(f.serve(1, 99)) << "out of range is the server's business";
}
