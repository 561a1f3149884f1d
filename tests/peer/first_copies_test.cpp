// FirstCopies: a seed sends every block once before any twice, and never refuses twice.
#include "peer/first_copies.hpp"

#include <gtest/gtest.h>

#include "peer/block_server.hpp"
#include "peer/holdings_hint.hpp"

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

TEST(FirstCopies, OutOfRangeIsTheServersBusiness) {
  FirstCopies f(2);
  EXPECT_TRUE(f.serve(1, 99));
  EXPECT_EQ(f.unsent(), 2u);
}

TEST(AskedOnce, TheFirstAskIsToldTheSecondServedTheThirdToldAgain) {
  AskedOnce a;
  EXPECT_TRUE(a.first_ask(1, 7));
  EXPECT_TRUE(a.first_ask(2, 7)) << "each address has its own";
  EXPECT_TRUE(a.first_ask(1, 8)) << "and each block";
  EXPECT_EQ(a.size(), 3u);
  EXPECT_FALSE(a.first_ask(1, 7)) << "asked again";
  EXPECT_EQ(a.size(), 2u) << "forgotten once asked again";
  EXPECT_TRUE(a.first_ask(1, 7)) << "a new round";
}

TEST(AskedOnce, WithAKeepTimeWhatWasToldLongAgoIsForgotten) {
  using namespace std::chrono_literals;
  AskedOnce a(5s);
  const auto t0 = AskedOnce::Clock::now();
  EXPECT_TRUE(a.first_ask(1, 7, t0));
  EXPECT_FALSE(a.first_ask(1, 7, t0 + 1s)) << "asked again soon: served";
  EXPECT_TRUE(a.first_ask(1, 8, t0 + 1s));
  EXPECT_FALSE(a.first_ask(1, 8, t0 + 6s)) << "between keep and twice keep: still remembered";
  EXPECT_TRUE(a.first_ask(1, 9, t0 + 6s));
  EXPECT_TRUE(a.first_ask(2, 9, t0 + 12s));
  EXPECT_EQ(a.size(), 2u);
  EXPECT_TRUE(a.first_ask(1, 9, t0 + 17s)) << "told 11 s ago: forgotten, told again";
  EXPECT_EQ(a.size(), 2u) << "(2, 9) from 5 s ago stays; (1, 9) anew";
  EXPECT_TRUE(a.first_ask(3, 1, t0 + 40s));
  EXPECT_EQ(a.size(), 1u) << "both generations old: all forgotten";
}

TEST(FirstCopies, SaysWhenAnAskIsServedBecauseItWasRefusedBefore) {
  FirstCopies f(4);
  auto a = f.serve(1, 0);
  EXPECT_TRUE(a);
  EXPECT_TRUE(a.first_copy);
  EXPECT_FALSE(a.asked_again);
  a = f.serve(2, 0);
  EXPECT_FALSE(a);
  EXPECT_FALSE(a.asked_again);
  a = f.serve(2, 0);
  EXPECT_TRUE(a);
  EXPECT_FALSE(a.first_copy);
  EXPECT_TRUE(a.asked_again) << "no other rule may turn this ask away";
  a = f.serve(1, 0);
  EXPECT_TRUE(a);
  EXPECT_FALSE(a.asked_again) << "the first copy's address: served, but not because it asked again";
}

TEST(AskedOnce, WhatItRemembersIsBoundedAndPastThatItStartsOver) {
  AskedOnce a;
  for (std::uint32_t ip = 0; ip < AskedOnce::max_remembered; ++ip) EXPECT_TRUE(a.first_ask(ip, 0));
  EXPECT_EQ(a.size(), AskedOnce::max_remembered);
  EXPECT_FALSE(a.first_ask(5, 0)) << "within the cap, remembered";
  EXPECT_TRUE(a.first_ask(5, 0));
  EXPECT_TRUE(a.first_ask(2'000'000'000, 0)) << "past the cap: it starts over";
  EXPECT_EQ(a.size(), 1u);
  EXPECT_TRUE(a.first_ask(6, 0)) << "what was remembered before is forgotten";
}

TEST(FirstCopies, ABlockWhoseSendingFailedIsNotInTheSwarm) {
  FirstCopies f(2);
  EXPECT_TRUE(f.serve(1, 0).first_copy);
  const auto a = f.serve(3, 0);
  EXPECT_FALSE(a);
  EXPECT_FALSE(a.first_copy);
  f.not_sent(0);
  EXPECT_EQ(f.unsent(), 2u);
  EXPECT_TRUE(f.serve(2, 0)) << "the next asker gets it as a first copy";
}

TEST(FirstCopies, FirstCopiesGoOutFromTheFrontOfTheUnsentBlocks) {
  FirstCopies f(10, 3);  // the front: 3 blocks from the lowest unsent one, 0-2 at first
  auto a = f.serve(1, 3);
  EXPECT_FALSE(a) << "beyond the front: nobody has it yet";
  EXPECT_TRUE(a.ahead);
  a = f.serve(1, 2);
  EXPECT_TRUE(a);
  EXPECT_FALSE(a.ahead);
  a = f.serve(2, 2);
  EXPECT_FALSE(a) << "sent: in the swarm";
  EXPECT_FALSE(a.ahead);
  a = f.serve(2, 3);
  EXPECT_FALSE(a) << "0 is unsent: the front is still 0-2";
  EXPECT_TRUE(a.ahead);
  EXPECT_TRUE(f.serve(3, 0));
  EXPECT_TRUE(f.serve(3, 3)) << "0 sent: the front is 1-3";
  EXPECT_FALSE(f.serve(3, 4));
  EXPECT_TRUE(f.serve(4, 1));
  EXPECT_TRUE(f.serve(4, 6)) << "0-3 sent: the front is 4-6";
  EXPECT_FALSE(f.serve(4, 7));
  EXPECT_EQ(f.unsent(), 5u);
}

TEST(FirstCopies, ABlockBeyondTheFrontAskedAgainIsSentAsAFirstCopy) {
  // Another implementation that asks again at once (tests/interop/reference.py) is never stuck.
  FirstCopies f(10, 2);
  auto a = f.serve(1, 9);
  EXPECT_FALSE(a);
  EXPECT_TRUE(a.ahead);
  a = f.serve(1, 9);
  EXPECT_TRUE(a);
  EXPECT_TRUE(a.first_copy);
  EXPECT_TRUE(a.asked_again) << "no other rule may turn this ask away";
  EXPECT_FALSE(a.ahead);
  EXPECT_FALSE(f.serve(2, 9)) << "now in the swarm";
  EXPECT_TRUE(f.serve(2, 1)) << "the front did not move: 0 and 1";
}

TEST(FirstCopies, AFailedFirstCopyComesBackToTheFront) {
  FirstCopies f(6, 2);
  for (std::uint64_t b : {0, 1, 2}) EXPECT_TRUE(f.serve(1, b));
  auto a = f.serve(1, 5);
  EXPECT_FALSE(a) << "the front is 3-4";
  EXPECT_EQ(a.hint, "; it holds all 6 blocks, and no other peer has these blocks: 3-4");
  f.not_sent(0);
  a = f.serve(2, 3);
  EXPECT_FALSE(a) << "the front is 0-1 again";
  EXPECT_EQ(a.hint, "; it holds all 6 blocks, and no other peer has these blocks: 0");
  EXPECT_TRUE(f.serve(2, 0));
  EXPECT_TRUE(f.serve(2, 4)) << "and then 3-4";
}

TEST(FirstCopies, WithoutAnOrderAnyUnsentBlockGoesOut) {
  FirstCopies f(100, 0);
  EXPECT_TRUE(f.serve(1, 99));
  EXPECT_TRUE(f.serve(1, 50));
  const auto a = f.serve(2, 50);
  EXPECT_FALSE(a);
  EXPECT_EQ(a.hint, "") << "no front to name";
}

TEST(FirstCopies, ARefusalNamesTheFrontsUnsentBlocksAsAHintOursReads) {
  FirstCopies f(64, 8);
  for (std::uint64_t b : {0, 1, 3, 4}) EXPECT_TRUE(f.serve(1, b));
  auto a = f.serve(2, 40);
  EXPECT_FALSE(a);
  EXPECT_TRUE(a.ahead);
  const std::string message = ahead_message(40) + a.hint;
  EXPECT_EQ(parse_holdings_hint(message, 64), (std::vector<std::uint64_t>{2, 5, 6, 7, 8, 9}))
      << message;
  EXPECT_NE(message.find(ask_elsewhere_words), std::string::npos) << "firm: believed its time";
  a = f.serve(2, 0);
  EXPECT_FALSE(a) << "in the swarm";
  EXPECT_EQ(parse_holdings_hint(elsewhere_message(0) + a.hint, 64).size(), 6u);
  for (std::uint64_t b = 2; b < 64; ++b) EXPECT_TRUE(f.serve(1, b)) << b;
  EXPECT_TRUE(f.over());
  a = f.serve(2, 0);
  EXPECT_TRUE(a) << "over: everything is served";
  EXPECT_EQ(a.hint, "");
}

TEST(FirstCopies, AFrontNobodyAsksForStopsHoldingLaterBlocksBack) {
  // A restarted seed in a swarm that has blocks 0-1 already: nobody asks it for them.
  FirstCopies f(10, 2);
  const auto t0 = FirstCopies::Clock::now();
  auto a = f.serve(1, 5, t0);
  EXPECT_FALSE(a);
  EXPECT_TRUE(a.ahead);
  EXPECT_FALSE(f.serve(2, 6, t0 + FirstCopies::front_patience / 2));
  a = f.serve(3, 7, t0 + FirstCopies::front_patience);
  EXPECT_TRUE(a) << "refused for its patience with no ask for the front: sent on a first ask";
  EXPECT_FALSE(a.ahead);
  EXPECT_TRUE(f.serve(3, 8, t0 + FirstCopies::front_patience * 2));
  EXPECT_FALSE(f.serve(1, 7)) << "sent once: in the swarm";
  EXPECT_TRUE(f.serve(1, 0, t0 + FirstCopies::front_patience * 3))
      << "the front is asked for again";
  a = f.serve(4, 9, t0 + FirstCopies::front_patience * 3);
  EXPECT_FALSE(a);
  EXPECT_TRUE(a.ahead) << "so the order holds again";
}

TEST(FirstCopies, ARefusalBeyondTheFrontDoesNotCountAsOneForABlockSentLater) {
  FirstCopies f(10, 2);
  EXPECT_FALSE(f.serve(1, 3)) << "beyond the front";
  for (std::uint64_t b : {0, 1, 2}) EXPECT_TRUE(f.serve(2, b));
  EXPECT_TRUE(f.serve(2, 3)) << "the front reached it: sent to another address";
  EXPECT_FALSE(f.serve(1, 3)) << "in the swarm now: told to ask elsewhere, not a second copy";
  EXPECT_TRUE(f.serve(1, 3)) << "asked again: served";
}

TEST(FirstCopies, AnAskOutsideTheOrderIsSentAndLeavesTheFrontAsItWas) {
  FirstCopies f(10, 2);
  const auto t0 = FirstCopies::Clock::now();
  auto a = f.serve(1, 7, t0, false);
  EXPECT_TRUE(a) << "a loopback asker";
  EXPECT_TRUE(a.first_copy);
  a = f.serve(2, 8, t0);
  EXPECT_FALSE(a) << "the front is still 0-1";
  EXPECT_TRUE(a.ahead);
  a = f.serve(2, 7, t0);
  EXPECT_FALSE(a) << "7 is in the swarm";
  EXPECT_FALSE(a.ahead);
}
