// TrackerSchedule: when a downloader SUBSCRIBEs and LISTs, with a fake clock.
#include "peer/tracker_schedule.hpp"

#include <gtest/gtest.h>

using namespace cascade;
using namespace std::chrono_literals;

namespace {
using Clock = TrackerSchedule::Clock;
const Clock::time_point start = Clock::time_point{} + 1000s;
const TrackerSchedule::Need enough{8, 8, false};   // as many peers as connections wanted
const TrackerSchedule::Need starving{0, 8, true};  // nothing running, nobody to try
const TrackerSchedule::Need too_few{3, 8, false};  // some, but fewer than wanted

TrackerSchedule schedule(bool client_only = false) {
  return TrackerSchedule({600s, 30s, client_only});
}
// What a downloader that wants 8 connections has after an answer that left it `usable` peers.
TrackerSchedule::Need knowing(std::size_t usable) {
  return {usable, 8, false};
}
}  // namespace

TEST(TrackerSchedule, AnnouncesFirstAndAgainAfterTheInterval) {
  auto s = schedule();
  EXPECT_EQ(s.due(start, enough), TrackerCommand::subscribe);
  s.answered(TrackerCommand::subscribe, start, knowing(8));
  EXPECT_FALSE(s.due(start + 599s, enough));
  EXPECT_EQ(s.due(start + 600s, enough), TrackerCommand::subscribe);
}

TEST(TrackerSchedule, AClientOnlyPeerOnlyLists) {
  auto s = schedule(true);
  EXPECT_EQ(s.due(start, enough), TrackerCommand::list);
  s.answered(TrackerCommand::list, start, knowing(8));
  EXPECT_FALSE(s.due(start + 599s, enough));
  EXPECT_EQ(s.due(start + 600s, starving), TrackerCommand::list);
}

TEST(TrackerSchedule, ListsWhenStarvingButAtMostOncePerListInterval) {
  auto s = schedule();
  s.answered(TrackerCommand::subscribe, start, knowing(8));  // peers enough, for now
  EXPECT_FALSE(s.due(start + 29s, starving));
  EXPECT_EQ(s.due(start + 30s, starving), TrackerCommand::list);
  EXPECT_FALSE(s.due(start + 30s, enough)) << "a full peer set needs no list";
  EXPECT_EQ(s.due(start + 30s, too_few), TrackerCommand::list);
  s.answered(TrackerCommand::list, start + 30s, knowing(8));
  EXPECT_FALSE(s.due(start + 59s, starving));
}

TEST(TrackerSchedule, AListDoesNotPostponeTheAnnounce) {
  // LIST does not refresh our registry entry: if it moved the SUBSCRIBE, a leecher listing every
  // 30 s would never announce again and would expire from the tracker.
  auto s = schedule();
  s.answered(TrackerCommand::subscribe, start, knowing(8));
  for (auto t = start + 30s; t < start + 600s; t += 30s) {
    ASSERT_EQ(s.due(t, starving), TrackerCommand::list);
    s.answered(TrackerCommand::list, t, knowing(8));
  }
  EXPECT_EQ(s.due(start + 600s, starving), TrackerCommand::subscribe);
}

TEST(TrackerSchedule, AFormingSwarmIsListedAgainSoonerBackingOff) {
  // We came early: the tracker knew only those before us (none, then one, then a few).
  for (std::size_t usable : {0, 1, 7}) {
    auto s = schedule();
    s.answered(TrackerCommand::subscribe, start, knowing(usable));
    Clock::time_point t = start;
    for (Clock::duration expected :
         {250ms, 500ms, 1000ms, 2000ms, 4000ms, 8000ms, 16000ms, 30000ms, 30000ms}) {
      EXPECT_EQ(s.next_list() - t, expected) << usable;
      t = s.next_list();
      ASSERT_EQ(s.due(t, starving), TrackerCommand::list);
      s.answered(TrackerCommand::list, t, knowing(usable));
    }
    s.answered(TrackerCommand::list, t, knowing(8));  // enough at last: back to the interval
    EXPECT_EQ(s.next_list() - t, 30s);
    s.answered(TrackerCommand::list, t, knowing(3));  // short again (bans): soon, from 0.25 s
    EXPECT_EQ(s.next_list() - t, 250ms);
  }
}

TEST(TrackerSchedule, AnswersThatBringNewPeersAreFollowedSoonUntilOneBringsNone) {
  // Enough peers for our connections, but the swarm is still growing: the leechers that came
  // after us are known only to those who list again.
  auto s = schedule();
  TrackerSchedule::Need growing{12, 8, false, 4};
  s.answered(TrackerCommand::subscribe, start, growing);
  Clock::time_point t = start;
  for (Clock::duration expected : {250ms, 500ms, 1000ms}) {
    EXPECT_EQ(s.next_list() - t, expected);
    t = s.next_list();
    ASSERT_EQ(s.due(t, enough), TrackerCommand::list) << "due though enough peers are known";
    s.answered(TrackerCommand::list, t, growing);
  }
  s.answered(TrackerCommand::list, t, knowing(16));  // nothing new: the swarm has formed
  EXPECT_EQ(s.next_list() - t, 30s);
  EXPECT_FALSE(s.due(t + 30s, enough));
  // A complete file wants no peers: new ones do not make it list.
  auto seed = schedule();
  seed.answered(TrackerCommand::subscribe, start, {5, 0, false, 5});
  EXPECT_FALSE(seed.due(start + 1s, {5, 0, false}));
}

TEST(TrackerSchedule, FailuresBackOffExponentiallyUpToAMinute) {
  auto s = schedule();
  Clock::time_point t = start;
  for (auto expected : {1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s}) {
    ASSERT_TRUE(s.due(t, enough));
    s.failed(t);
    EXPECT_EQ(s.next_announce() - t, expected);
    EXPECT_FALSE(s.due(t + expected - 1ms, starving)) << "no list during the backoff either";
    t += expected;
  }
  EXPECT_EQ(s.failures(), 8);
  s.answered(TrackerCommand::subscribe, t, knowing(5));
  EXPECT_EQ(s.failures(), 0);
  EXPECT_EQ(s.next_announce() - t, 600s);
}

TEST(TrackerSchedule, NextDueIsWhenDueFirstNamesAnExchange) {
  // A session sleeps until next_due(): due() must name nothing before it and something at it.
  auto s = schedule();
  EXPECT_EQ(s.next_due(enough), Clock::time_point{}) << "the first announce is due at once";
  s.answered(TrackerCommand::subscribe, start, knowing(8));
  for (const auto& need : {enough, starving, too_few}) {
    const auto at = s.next_due(need);
    EXPECT_FALSE(s.due(at - 1ms, need));
    EXPECT_TRUE(s.due(at, need));
  }
  EXPECT_EQ(s.next_due(enough), start + 600s) << "a full peer set waits for the announce";
  EXPECT_EQ(s.next_due(starving), start + 30s);
  // A failure moves both to its backoff.
  s.failed(start + 40s);
  EXPECT_EQ(s.next_due(enough), start + 41s);
  EXPECT_EQ(s.next_due(starving), start + 41s);
  // While the swarm forms, the next LIST comes sooner, for a peer that wants connections only.
  auto forming = schedule();
  forming.answered(TrackerCommand::subscribe, start, {3, 8, false, 3});
  EXPECT_EQ(forming.next_due(knowing(8)), start + 250ms);
  EXPECT_EQ(forming.next_due({8, 0, false}), start + 600s) << "a complete file lists nothing";
}
