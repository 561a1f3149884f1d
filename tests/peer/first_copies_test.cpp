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
  bool first = false, again = false;
  EXPECT_TRUE(f.serve(1, 0, &first, &again));
  EXPECT_TRUE(first);
  EXPECT_FALSE(again);
  EXPECT_FALSE(f.serve(2, 0, &first, &again));
  EXPECT_FALSE(again);
  EXPECT_TRUE(f.serve(2, 0, &first, &again));
  EXPECT_FALSE(first);
  EXPECT_TRUE(again) << "no other rule may turn this ask away";
  EXPECT_TRUE(f.serve(1, 0, &first, &again));
  EXPECT_FALSE(again) << "the first copy's address: served, but not because it asked again";
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
  bool first = false;
  EXPECT_TRUE(f.serve(1, 0, &first));
  EXPECT_TRUE(first);
  EXPECT_FALSE(f.serve(3, 0, &first));
  EXPECT_FALSE(first);
  f.not_sent(0);
  EXPECT_EQ(f.unsent(), 2u);
  EXPECT_TRUE(f.serve(2, 0)) << "the next asker gets it as a first copy";
}

TEST(FirstCopies, FirstCopiesGoOutFromTheFrontOfTheUnsentBlocks) {
  FirstCopies f(10, 3);  // the front: 3 blocks from the lowest unsent one, 0-2 at first
  bool ahead = false;
  EXPECT_FALSE(f.serve(1, 3, nullptr, nullptr, &ahead)) << "beyond the front: nobody has it yet";
  EXPECT_TRUE(ahead);
  EXPECT_TRUE(f.serve(1, 2, nullptr, nullptr, &ahead));
  EXPECT_FALSE(ahead);
  EXPECT_FALSE(f.serve(2, 2, nullptr, nullptr, &ahead)) << "sent: in the swarm";
  EXPECT_FALSE(ahead);
  EXPECT_FALSE(f.serve(2, 3, nullptr, nullptr, &ahead)) << "0 is unsent: the front is still 0-2";
  EXPECT_TRUE(ahead);
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
  bool first = false, again = false, ahead = false;
  EXPECT_FALSE(f.serve(1, 9, &first, &again, &ahead));
  EXPECT_TRUE(ahead);
  EXPECT_TRUE(f.serve(1, 9, &first, &again, &ahead));
  EXPECT_TRUE(first);
  EXPECT_TRUE(again) << "no other rule may turn this ask away";
  EXPECT_FALSE(ahead);
  EXPECT_FALSE(f.serve(2, 9)) << "now in the swarm";
  EXPECT_TRUE(f.serve(2, 1)) << "the front did not move: 0 and 1";
}

TEST(FirstCopies, AFailedFirstCopyComesBackToTheFront) {
  FirstCopies f(6, 2);
  for (std::uint64_t b : {0, 1, 2}) EXPECT_TRUE(f.serve(1, b));
  EXPECT_FALSE(f.serve(1, 5)) << "the front is 3-4";
  EXPECT_EQ(f.front_hint(), "; it holds all 6 blocks, and no other peer has these blocks: 3-4");
  f.not_sent(0);
  EXPECT_EQ(f.front_hint(), "; it holds all 6 blocks, and no other peer has these blocks: 0");
  EXPECT_FALSE(f.serve(2, 3)) << "the front is 0-1 again";
  EXPECT_TRUE(f.serve(2, 0));
  EXPECT_TRUE(f.serve(2, 4)) << "and then 3-4";
}

TEST(FirstCopies, WithoutAnOrderAnyUnsentBlockGoesOut) {
  FirstCopies f(100, 0);
  EXPECT_TRUE(f.serve(1, 99));
  EXPECT_TRUE(f.serve(1, 50));
  EXPECT_FALSE(f.serve(2, 50));
  EXPECT_EQ(f.front_hint(), "") << "no front to name";
}

TEST(FirstCopies, ARefusalNamesTheFrontsUnsentBlocksAsAHintOursReads) {
  FirstCopies f(64, 8);
  for (std::uint64_t b : {0, 1, 3, 4}) EXPECT_TRUE(f.serve(1, b));
  bool ahead = false;
  EXPECT_FALSE(f.serve(2, 40, nullptr, nullptr, &ahead));
  const std::string message = ahead_message(40) + f.front_hint();
  EXPECT_EQ(parse_holdings_hint(message, 64), (std::vector<std::uint64_t>{2, 5, 6, 7, 8, 9}))
      << message;
  EXPECT_NE(message.find(ask_elsewhere_words), std::string::npos) << "firm: believed its time";
  EXPECT_EQ(parse_holdings_hint(elsewhere_message(0) + f.front_hint(), 64).size(), 6u);
  for (std::uint64_t b = 2; b < 64; ++b) EXPECT_TRUE(f.serve(1, b)) << b;
  EXPECT_TRUE(f.over());
  EXPECT_EQ(f.front_hint(), "") << "over: nothing to name";
}

TEST(FirstCopies, AFrontNobodyAsksForStopsHoldingLaterBlocksBack) {
  // A restarted seed in a swarm that has blocks 0-1 already: nobody asks it for them.
  FirstCopies f(10, 2);
  const auto t0 = FirstCopies::Clock::now();
  bool ahead = false;
  EXPECT_FALSE(f.serve(1, 5, nullptr, nullptr, &ahead, t0));
  EXPECT_TRUE(ahead);
  EXPECT_FALSE(f.serve(2, 6, nullptr, nullptr, &ahead, t0 + FirstCopies::front_patience / 2));
  EXPECT_TRUE(f.serve(3, 7, nullptr, nullptr, &ahead, t0 + FirstCopies::front_patience))
      << "refused for its patience with no ask for the front: sent on a first ask";
  EXPECT_FALSE(ahead);
  EXPECT_TRUE(f.serve(3, 8, nullptr, nullptr, &ahead, t0 + FirstCopies::front_patience * 2));
  EXPECT_FALSE(f.serve(1, 7)) << "sent once: in the swarm";
  EXPECT_TRUE(f.serve(1, 0, nullptr, nullptr, &ahead, t0 + FirstCopies::front_patience * 3))
      << "the front is asked for again";
  EXPECT_FALSE(f.serve(4, 9, nullptr, nullptr, &ahead, t0 + FirstCopies::front_patience * 3));
  EXPECT_TRUE(ahead) << "so the order holds again";
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
  bool ahead = false;
  EXPECT_TRUE(f.serve(1, 7, nullptr, nullptr, &ahead, t0, false)) << "a loopback asker";
  EXPECT_FALSE(ahead);
  EXPECT_FALSE(f.serve(2, 8, nullptr, nullptr, &ahead, t0)) << "the front is still 0-1";
  EXPECT_TRUE(ahead);
  EXPECT_FALSE(f.serve(2, 7, nullptr, nullptr, &ahead, t0)) << "7 is in the swarm";
  EXPECT_FALSE(ahead);
}
