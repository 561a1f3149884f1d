// PeerTable and LackMemory: which peer next, when to retry, when to ban. A fake clock throughout.
#include "peer/peer_table.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace cascade;
using namespace std::chrono_literals;

namespace {
using Clock = PeerTable::Clock;
const Clock::time_point t0 = Clock::time_point{} + 1000s;

PeerEntry entry(std::uint32_t ip, std::uint16_t port, bool good = false) {
  return PeerEntry{ip, port, 0, good};
}
Endpoint ep(std::uint32_t ip, std::uint16_t port) {
  return Endpoint{ip, port};
}

PeerTable table(std::size_t max_peers = 1000) {
  return PeerTable(PeerTable::Options{max_peers, ep(1, 1)});
}

std::set<std::uint64_t> keys(const std::vector<Endpoint>& v) {
  std::set<std::uint64_t> out;
  for (const auto& e : v) out.insert(e.key());
  return out;
}
PeerTable::Outcome failed_before_delivering() {
  return {.delivered = 0, .failed = true};
}
}  // namespace

TEST(PeerTable, MergeSkipsOurselvesAndNonsenseAndStopsAtMaxPeers) {
  auto t = table(3);
  t.merge(
      {entry(1, 1), entry(0, 5), entry(5, 0), entry(2, 2), entry(3, 3), entry(4, 4), entry(2, 2)});
  EXPECT_EQ(t.counts(t0).known,
            3u);  // 2, 3, 4: not ourselves, not ip or port 0; 4 fits, nothing more
  t.merge({entry(9, 9)});
  EXPECT_EQ(t.counts(t0).known, 3u);
}

TEST(PeerTable, ChooseGivesEachPeerToOneConnectionAtATime) {
  auto t = table();
  t.merge({entry(2, 2), entry(3, 3), entry(4, 4)});
  std::mt19937_64 rng(1);
  const auto first = t.choose(2, t0, rng);
  EXPECT_EQ(first.size(), 2u);
  const auto second = t.choose(5, t0, rng);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_FALSE(keys(first).contains(second[0].key()));
  EXPECT_TRUE(t.choose(5, t0, rng).empty());
  EXPECT_EQ(t.counts(t0).connected, 3u);
}

TEST(PeerTable, ChoosePrefersGoodPeersThenPeersThatDelivered) {
  auto t = table();
  t.merge({entry(2, 2), entry(3, 3), entry(4, 4, /*good=*/true), entry(5, 5)});
  std::mt19937_64 rng(2);
  // Peer 3 delivered on an earlier connection.
  ASSERT_EQ(t.choose(4, t0, rng).size(), 4u);
  for (std::uint32_t p : {2u, 3u, 4u, 5u})
    t.release(ep(p, p), {.delivered = p == 3 ? 10u : 0u}, {}, t0 - 1s);
  for (int round = 0; round < 10; ++round) {
    const auto two = t.choose(2, t0, rng);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0], ep(4, 4));
    EXPECT_EQ(two[1], ep(3, 3));
    for (const auto& e : two) t.release(e, {}, {}, t0 - 1s);
  }
}

TEST(PeerTable, ChoosePrefersFreshEntriesToStaleOnes) {
  auto t = table();
  const std::uint32_t now = 1'700'000'000;
  std::vector<PeerEntry> entries;
  for (std::uint16_t i = 0; i < 20; ++i)  // left long ago
    entries.push_back(PeerEntry{100, static_cast<std::uint16_t>(1000 + i), now - 3600, false});
  entries.push_back(PeerEntry{2, 2, now, false});
  entries.push_back(PeerEntry{3, 3, now - 30, false});
  t.merge(entries);
  std::mt19937_64 rng(11);
  EXPECT_EQ(keys(t.choose(2, t0, rng)), keys({ep(2, 2), ep(3, 3)}));
  EXPECT_EQ(t.choose(30, t0, rng).size(), 20u) << "stale ones are still tried, after";
}

TEST(PeerTable, ThreeStrikesBanForGood) {
  auto t = table();
  t.merge({entry(2, 2)});
  std::mt19937_64 rng(3);
  for (int i = 1; i <= PeerTable::max_strikes; ++i) {
    ASSERT_EQ(t.choose(1, t0 + 10s * i, rng).size(), 1u) << i;
    const auto standing = t.release(ep(2, 2), {.strikes = 1, .failed = true}, {}, t0 + 10s * i);
    EXPECT_EQ(standing == PeerTable::Standing::banned_now, i == PeerTable::max_strikes) << i;
  }
  EXPECT_TRUE(t.choose(1, t0 + 1h, rng).empty());
  EXPECT_EQ(t.counts(t0).banned, 1u);
  t.merge({entry(2, 2, true)});  // the tracker listing it again does not lift the ban
  EXPECT_TRUE(t.choose(1, t0 + 2h, rng).empty());
}

TEST(PeerTable, APeerThatDoesNotServeTheFileIsBannedAtOnce) {
  auto t = table();
  t.merge({entry(2, 2)});
  std::mt19937_64 rng(4);
  t.choose(1, t0, rng);
  EXPECT_EQ(t.release(ep(2, 2), {.failed = true, .refuses_file = true}, {}, t0),
            PeerTable::Standing::banned_now);
  EXPECT_TRUE(t.choose(1, t0 + 1h, rng).empty());
}

TEST(PeerTable, FailuresBeforeDeliveringBackOffExponentiallyUpToACap) {
  auto t = table();
  t.merge({entry(2, 2)});
  std::mt19937_64 rng(5);
  Clock::time_point now = t0;
  Clock::duration expected = PeerTable::failure_backoff * 2;
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(t.choose(1, now, rng).size(), 1u) << i;
    t.release(ep(2, 2), failed_before_delivering(), {}, now);
    EXPECT_TRUE(t.choose(1, now + expected - 1ms, rng).empty()) << i;
    now += expected;
    expected = std::min<Clock::duration>(expected * 2, PeerTable::failure_backoff * 256);
  }
  EXPECT_EQ(PeerTable::retry_delay(failed_before_delivering(), 30), 64s);
}

// Peer (2, 2) in `t` failed once without delivering at t0, and its next connection ended with
// `outcome` at t0 + 1 s.
static void failed_once_then(PeerTable& t, const PeerTable::Outcome& outcome,
                             std::mt19937_64& rng) {
  t.merge({entry(2, 2)});
  t.choose(1, t0, rng);
  t.release(ep(2, 2), failed_before_delivering(), {}, t0);
  t.choose(1, t0 + 1s, rng);
  t.release(ep(2, 2), outcome, {}, t0 + 1s);
}

TEST(PeerTable, APeerThatDeliveredAndClosedIsAskedAgainAtOnce) {
  auto t = table();
  std::mt19937_64 rng(6);
  failed_once_then(t, {.delivered = 3, .failed = true, .closed_by_peer = true}, rng);
  EXPECT_EQ(t.choose(1, t0 + 1s, rng).size(), 1u) << "a reset after delivering is not a failure";
  // ... but a peer that closed after a wrong block waits like any failure.
  EXPECT_EQ(PeerTable::retry_delay(
                {.delivered = 3, .strikes = 1, .failed = true, .closed_by_peer = true}, 1),
            PeerTable::pause_after_failure);
}

TEST(PeerTable, AConnectionWeEndedToDropADuplicateIsReplacedAtOnceAndIsNoFailure) {
  auto t = table();
  std::mt19937_64 rng(8);
  failed_once_then(t, {.unanswered = 2, .dropped_copy = true}, rng);
  EXPECT_EQ(t.choose(1, t0 + 1s, rng).size(), 1u) << "asked again at once";
  t.release(ep(2, 2), failed_before_delivering(), {}, t0 + 1s);
  // The drop did not count as a failure: one failure since, so the first backoff step.
  EXPECT_TRUE(t.choose(1, t0 + 1s + PeerTable::failure_backoff * 2 - 1ms, rng).empty());
  EXPECT_EQ(t.choose(1, t0 + 1s + PeerTable::failure_backoff * 2, rng).size(), 1u);
}

TEST(PeerTable, OtherEndsWaitAShortPause) {
  EXPECT_EQ(PeerTable::retry_delay({.delivered = 5}, 0), PeerTable::pause_after_end);
  EXPECT_EQ(PeerTable::retry_delay({.delivered = 5, .failed = true}, 1),
            PeerTable::pause_after_failure);
  EXPECT_GT(PeerTable::pause_after_failure, PeerTable::pause_after_end);
}

TEST(PeerTable, PeerMemoryIsHandedToTheNextConnectionAndBack) {
  auto t = table();
  t.merge({entry(2, 2)});
  std::mt19937_64 rng(7);
  t.choose(1, t0, rng);
  PeerMemory memory = t.take_memory(ep(2, 2));
  EXPECT_TRUE(memory.lacks.blocks().empty());
  EXPECT_TRUE(memory.holds.empty());
  memory.lacks.note(7, t0 + PeerMemory::lack_memory);
  memory.holds = {1, 4};
  t.release(ep(2, 2), {}, std::move(memory), t0);
  t.choose(1, t0 + 1s, rng);
  const PeerMemory again = t.take_memory(ep(2, 2));
  EXPECT_TRUE(again.lacks.blocks().contains(7));
  EXPECT_EQ(again.holds, (std::vector<std::uint64_t>{1, 4}));
  const PeerMemory unknown = t.take_memory(ep(9, 9));
  EXPECT_TRUE(unknown.lacks.blocks().empty() && unknown.holds.empty())
      << "an unknown peer has no memory";
}

namespace {
// A connection the peer closed (a reset) with `unanswered` of our requests pending.
PeerTable::Outcome closed_early(std::uint64_t answered, std::uint64_t unanswered) {
  return {.delivered = answered,
          .answered = answered,
          .unanswered = unanswered,
          .failed = true,
          .closed_by_peer = true};
}
}  // namespace

TEST(PeerTable, AnEarlyCloseTeachesThePeersAnswerLimit) {
  auto t = table();
  t.merge({entry(2, 2)});
  std::mt19937_64 rng(8);
  EXPECT_EQ(t.take_memory(ep(2, 2)).answer_limit, 0u) << "no limit until one is seen";
  t.choose(1, t0, rng);
  t.release(ep(2, 2), closed_early(3, 29), {}, t0);
  EXPECT_EQ(t.take_memory(ep(2, 2)).answer_limit, 3u);
  EXPECT_EQ(t.choose(1, t0, rng).size(), 1u) << "it delivered: asked again at once";
  // Probing past the limit, it answered 2 more before closing: the limit follows.
  t.release(ep(2, 2), closed_early(5, 1), {}, t0);
  EXPECT_EQ(t.take_memory(ep(2, 2)).answer_limit, 5u);
  // A close with nothing pending (an idle connection) teaches nothing.
  t.choose(1, t0, rng);
  t.release(ep(2, 2), {.delivered = 1, .answered = 1, .closed_by_peer = true}, {}, t0);
  EXPECT_EQ(t.take_memory(ep(2, 2)).answer_limit, 5u);
  // Answering past the limit on a connection it did not close: no limit after all.
  t.choose(1, t0, rng);
  t.release(ep(2, 2), {.delivered = 11, .answered = 11}, {}, t0);
  EXPECT_EQ(t.take_memory(ep(2, 2)).answer_limit, 0u);
}

TEST(PeerTable, TheFirstEarlyCloseWithoutADeliveryIsForgivenOnceInARow) {
  auto t = table();
  t.merge({entry(2, 2)});
  std::mt19937_64 rng(9);
  // A seed that answers one block per connection: our deep pipeline's close was a reset that
  // lost the block it was sending. The first sign of a limit, so no back-off; the limit is 1.
  t.choose(1, t0, rng);
  t.release(ep(2, 2), closed_early(0, 31), {}, t0);
  EXPECT_EQ(t.take_memory(ep(2, 2)).answer_limit, 1u);
  ASSERT_EQ(t.choose(1, t0, rng).size(), 1u);
  // With the limit known, another close without a delivery is a failure: it backs off.
  t.release(ep(2, 2), closed_early(0, 1), {}, t0);
  EXPECT_TRUE(t.choose(1, t0 + PeerTable::failure_backoff, rng).empty());
  ASSERT_EQ(t.choose(1, t0 + 1s, rng).size(), 1u);
  // It delivers again; a reset while its next block arrives is forgiven, but not twice in a row.
  t.release(ep(2, 2), closed_early(1, 1), {}, t0 + 1s);
  ASSERT_EQ(t.choose(1, t0 + 1s, rng).size(), 1u);
  t.release(ep(2, 2), closed_early(0, 1), {}, t0 + 1s);
  ASSERT_EQ(t.choose(1, t0 + 1s, rng).size(), 1u) << "it has delivered before: forgiven";
  t.release(ep(2, 2), closed_early(0, 1), {}, t0 + 1s);
  EXPECT_TRUE(t.choose(1, t0 + 1s + PeerTable::failure_backoff, rng).empty())
      << "twice in a row without a delivery: a failure";
}

TEST(PeerTable, APeerThatClosesEveryConnectionAtOnceStillBacksOff) {
  auto t = table();
  t.merge({entry(2, 2)});
  std::mt19937_64 rng(10);
  Clock::time_point now = t0;
  int tries = 0;
  // Over 10 simulated seconds, a peer that never delivers is tried a handful of times, not
  // once per round trip.
  while (now < t0 + 10s) {
    if (!t.choose(1, now, rng).empty()) {
      ++tries;
      t.release(ep(2, 2), closed_early(0, 8), {}, now);
    }
    now += 10ms;
  }
  EXPECT_LE(tries, 7);
}

TEST(LackMemory, AnswersAreBelievedUntilTheirTimeIsUp) {
  LackMemory m;
  m.note(1, t0 + 750ms);
  m.note(2, t0 + 800ms);
  m.forget_expired(t0 + 749ms);
  EXPECT_EQ(m.blocks(), (BlockSet{1, 2}));
  m.forget_expired(t0 + 750ms);
  EXPECT_EQ(m.blocks(), (BlockSet{2}));
  m.forget_expired(t0 + 1s);
  EXPECT_TRUE(m.blocks().empty());
}

TEST(LackMemory, TheLastAnswerForABlockIsTheOneBelieved) {
  // Asked again and told again: the later answer's time and kind hold, also when an idle
  // connection forgets soft answers early (up to `soft`).
  struct Case {
    bool first_firm, second_firm;
    std::chrono::milliseconds second_until, check_at, soft;
  };
  for (const Case& c : {Case{false, false, 1500ms, 1s, 0ms}, Case{true, false, 900ms, 800ms, 0ms},
                        Case{false, true, 850ms, 200ms, 910ms}}) {
    LackMemory m;
    m.note(1, t0 + 750ms, c.first_firm);
    m.note(1, t0 + c.second_until, c.second_firm);
    m.forget_expired(t0 + c.check_at, t0 + c.soft);
    EXPECT_EQ(m.blocks(), (BlockSet{1})) << c.second_until.count();
    m.forget_expired(t0 + c.second_until);
    EXPECT_TRUE(m.blocks().empty()) << c.second_until.count();
  }
}

TEST(PeerTable, CountsSayWhoIsReadyNow) {
  auto t = table();
  t.merge({entry(2, 2), entry(3, 3), entry(4, 4)});
  std::mt19937_64 rng(8);
  EXPECT_EQ(t.counts(t0).ready, 3u);
  const auto one = t.choose(1, t0, rng);
  EXPECT_EQ(t.counts(t0).ready, 2u);
  t.release(one[0], failed_before_delivering(), {}, t0);
  const auto c = t.counts(t0);
  EXPECT_EQ(c.ready, 2u);
  EXPECT_EQ(c.connected, 0u);
  EXPECT_EQ(t.counts(t0 + 1s).ready, 3u);
}

TEST(LackMemory, AFirmAnswerOutlivesTheIdleShortcutAndAHint) {
  // "Busy: ask other peers first" is firm; "not held" is not.
  LackMemory m;
  m.note(1, t0 + 750ms, /*firm=*/true);
  m.note(2, t0 + 750ms);
  m.forget_expired(t0 + 40ms, t0 + 760ms);  // an idle connection forgets the soft ones early
  EXPECT_EQ(m.blocks(), (BlockSet{1}));
  m.note(2, t0 + 800ms);
  m.forget(1);  // a hint says the peer holds both: only the soft answer goes
  m.forget(2);
  EXPECT_EQ(m.blocks(), (BlockSet{1}));
  m.forget_expired(t0 + 750ms);
  EXPECT_TRUE(m.blocks().empty());
}
