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

TEST(FirstCopies, TheAddressTheFirstCopyWentToIsServedAgain) {
  // Another program on that host (every test on 127.0.0.1), or a new connection of the same one.
  FirstCopies f(4);
  EXPECT_TRUE(f.serve(1, 2));
  EXPECT_TRUE(f.serve(1, 2));
  EXPECT_FALSE(f.serve(7, 2));
}

TEST(FirstCopies, OnceEveryBlockIsOutEverythingIsServed) {
  FirstCopies f(3);
  for (std::uint64_t b = 0; b < 3; ++b) EXPECT_TRUE(f.serve(1, b));
  EXPECT_TRUE(f.over());
  EXPECT_EQ(f.unsent(), 0u);
  for (std::uint32_t ip = 2; ip < 10; ++ip) EXPECT_TRUE(f.serve(ip, 1));
}

TEST(FirstCopies, WhatItRemembersIsBoundedAndPastThatItServes) {
  FirstCopies f(2);
  EXPECT_TRUE(f.serve(1, 0));
  for (std::uint32_t ip = 0; ip < FirstCopies::max_told; ++ip) EXPECT_FALSE(f.serve(100 + ip, 0));
  EXPECT_TRUE(f.serve(2'000'000'000, 0)) << "past the cap: served, nothing more remembered";
  EXPECT_TRUE(f.serve(100, 0)) << "a remembered address asking again is served, as always";
  EXPECT_FALSE(f.serve(2'000'000'001, 0)) << "which made room for one more";
  EXPECT_TRUE(f.serve(1, 99)) << "out of range is the server's business";
}

TEST(FirstCopies, ABlockWhoseSendingFailedIsNotInTheSwarm) {
  FirstCopies f(2);
  bool first = false;
  EXPECT_TRUE(f.serve(1, 0, &first));
  EXPECT_TRUE(first);
  EXPECT_FALSE(f.serve(3, 0, &first));
  EXPECT_FALSE(first);
  f.not_sent(0);
  EXPECT_EQ(f.unsent(), 2u);
  EXPECT_TRUE(f.serve(2, 0)) << "the next asker gets it as a first copy";
}
