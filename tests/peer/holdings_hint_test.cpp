#include "peer/holdings_hint.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "peer/block_server.hpp"
#include "peer/peer_table.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;
using namespace std::chrono_literals;

namespace {
std::vector<bool> held(std::size_t n, std::initializer_list<std::uint64_t> blocks) {
  std::vector<bool> v(n, false);
  for (auto b : blocks) v[b] = true;
  return v;
}
std::string hint(const std::vector<bool>& v, std::uint64_t near = 0,
                 std::size_t max_chars = max_holdings_hint) {
  return holdings_hint(v, static_cast<std::uint64_t>(std::count(v.begin(), v.end(), true)), near,
                       max_chars);
}
const auto hint_t0 = SteadyClock::time_point{} + 1h;
}  // namespace

TEST(HoldingsHint, ListsHeldBlocksAsRangesAndWhenTooManyThoseFromTheAskedBlockOn) {
  const auto h = held(64, {0, 1, 2, 3, 7, 9, 10, 63});
  EXPECT_EQ(hint(h), "; it holds 8 of 64 blocks: 0-3,7,9-10,63");
  EXPECT_EQ(hint(h, 5), "; it holds 8 of 64 blocks: 0-3,7,9-10,63") << "all fit: all listed";
  EXPECT_EQ(hint(h, 5, 34), "; it holds 8 of 64 blocks: 7,...");
  EXPECT_EQ(hint(h, 0, 34), "; it holds 8 of 64 blocks: 0-3,...");
  EXPECT_EQ(hint(h, 5, 40), "; it holds 8 of 64 blocks: 7,9-10,63") << "fits from 5 on";
  EXPECT_EQ(hint(held(3, {1})), "; it holds 1 of 3 blocks: 1");
}

TEST(HoldingsHint, SaysNothingWhenNoneOrAllAreHeld) {
  // A peer holding nothing sends the plain message: the vector's bytes exactly.
  EXPECT_EQ(hint(held(3, {})), "");
  EXPECT_EQ(hint(held(3, {0, 1, 2})), "");
  EXPECT_EQ(not_held_message(2) + hint(held(3, {})),
            test::vectors()["peer_error_response_not_held"]["message"].get<std::string>());
}

TEST(HoldingsHint, ALongListIsCutAtItsLimitAndSaysSo) {
  std::vector<bool> every_other(100'000, false);
  for (std::size_t b = 0; b < every_other.size(); b += 2) every_other[b] = true;
  const std::string h = hint(every_other, 50'001);
  EXPECT_LE(h.size(), max_holdings_hint);
  EXPECT_GT(h.size(), max_holdings_hint - 12);
  EXPECT_EQ(h.substr(h.size() - 4), ",...");
  const auto parsed = parse_holdings_hint("x" + h, every_other.size());
  ASSERT_GT(parsed.size(), 100u);
  for (std::size_t i = 0; i < parsed.size(); ++i) EXPECT_EQ(parsed[i], 50'002 + 2 * i);
  // Even the first range too long for the limit: no list at all, still marked cut.
  EXPECT_EQ(hint(held(64, {5}), 0, 30), "; it holds 1 of 64 blocks: ...");
}

namespace {
// The hint as its description says, written the plain way: every flag read, every range listed,
// then cut at the limit (from block 0, else from `near`).
std::string reference_hint(const std::vector<bool>& v, std::uint64_t near, std::size_t max_chars) {
  const std::uint64_t n = v.size();
  const auto count = static_cast<std::uint64_t>(std::count(v.begin(), v.end(), true));
  if (count == 0 || count == n) return {};
  const std::string head =
      "; it holds " + std::to_string(count) + " of " + std::to_string(n) + " blocks: ";
  auto from = [&](std::uint64_t start, bool& cut) {
    std::string out = head;
    cut = false;
    for (std::uint64_t b = start; b < n; ++b) {
      if (!v[b] || (b > start && v[b - 1])) continue;
      std::uint64_t e = b;
      while (e + 1 < n && v[e + 1]) ++e;
      const bool first = out.size() == head.size();
      std::string range = (first ? "" : ",") + std::to_string(b);
      if (e > b) range += "-" + std::to_string(e);
      if (out.size() + range.size() + 4 > max_chars) {
        out += first ? "..." : ",...";
        cut = true;
        return out;
      }
      out += range;
    }
    return out;
  };
  bool cut = false;
  std::string out = from(0, cut);
  if (cut && near > 0) out = from(near, cut);
  return out;
}
}  // namespace

TEST(HoldingsHint, AKnownPrefixAndTheCountChangeNothingButTheCost) {
  // The hint skips the verified prefix and stops at the end of the held blocks; its text must be
  // the plain listing's, for every pattern: prefixes, runs, scattered blocks, near and cut or not.
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3000; ++round) {
    const std::uint64_t n = 1 + rng() % 300;
    std::vector<bool> v(n, false);
    const std::uint64_t prefix = rng() % (n + 1);
    for (std::uint64_t b = 0; b < prefix; ++b) v[b] = true;
    const int density = static_cast<int>(rng() % 100);
    for (std::uint64_t b = prefix; b < n; ++b) v[b] = static_cast<int>(rng() % 100) < density;
    const auto count = static_cast<std::uint64_t>(std::count(v.begin(), v.end(), true));
    std::uint64_t last_end = n;  // one past the last held block
    while (last_end > 0 && !v[last_end - 1]) --last_end;
    // What a caller may pass: any prefix within the leading run, any end past the last held.
    const std::uint64_t known_prefix = prefix == 0 ? 0 : rng() % (prefix + 1);
    const std::uint64_t known_end = last_end + rng() % (n - last_end + 2);
    const std::uint64_t near = rng() % (n + 2);
    const std::size_t max_chars = 30 + rng() % 200;
    const std::string want = reference_hint(v, near, max_chars);
    ASSERT_EQ(holdings_hint(v, count, near, max_chars, known_prefix, known_end), want)
        << "round " << round << ": n " << n << ", prefix " << known_prefix << ", end " << known_end
        << ", near " << near;
    ASSERT_EQ(holdings_hint(v, count, near, max_chars), want) << "round " << round;
  }
}

TEST(HoldingsHint, ParsesWhatItWrites) {
  const auto h = held(40, {0, 1, 2, 5, 30, 31, 39});
  EXPECT_EQ(parse_holdings_hint(not_held_message(7) + hint(h), 40),
            (std::vector<std::uint64_t>{0, 1, 2, 5, 30, 31, 39}));
  EXPECT_EQ(parse_holdings_hint(busy_message(7) + hint(h), 40).size(), 7u);
}

TEST(HoldingsHint, ASeedNamesTheUnsentBlocksOfItsFrontAndOursReadsThem) {
  std::vector<bool> sent(40, false);
  for (std::uint64_t b : {0, 1, 2, 5, 9}) sent[b] = true;
  const std::string hint = unsent_hint(sent, 3, 11);
  EXPECT_EQ(hint, "; it holds all 40 blocks, and no other peer has these blocks: 3-4,6-8,10");
  EXPECT_EQ(parse_holdings_hint("block 0 is in the swarm already" + hint, 40),
            (std::vector<std::uint64_t>{3, 4, 6, 7, 8, 10}));
  EXPECT_EQ(unsent_hint(sent, 39, 60),
            "; it holds all 40 blocks, and no other peer has these "
            "blocks: 39")
      << "cut at the file's end";
  EXPECT_EQ(unsent_hint(sent, 0, 3), "") << "all sent: nothing to name";
}

TEST(HoldingsHint, AnyOtherMessageOrABadListGivesNothingBeyondItsGoodPart) {
  const std::uint64_t n = 64;
  EXPECT_TRUE(parse_holdings_hint("2 is not currently held by this peer", n).empty());
  EXPECT_TRUE(parse_holdings_hint("", n).empty());
  EXPECT_TRUE(parse_holdings_hint("; it holds 3 of 64 blocks: ", n).empty());
  EXPECT_TRUE(parse_holdings_hint("; it holds 3 of 64 blocks: x", n).empty());
  EXPECT_TRUE(parse_holdings_hint("; it holds 3 of 64 blocks: -4", n).empty());
  // The list ends at the first token that is not an ascending range within the file.
  auto p = [&](std::string_view list) {
    return parse_holdings_hint(std::string("; it holds 9 of 64 blocks: ") + std::string(list), n);
  };
  EXPECT_EQ(p("1,3-4,x,9"), (std::vector<std::uint64_t>{1, 3, 4}));
  EXPECT_EQ(p("1,5-3,9"), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(p("1,63,64"), (std::vector<std::uint64_t>{1, 63}));
  EXPECT_EQ(p("4,2"), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(p("4,4"), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(p("2-3,3-5"), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(p("1,99999999999999999999999"), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(p("7,..."), (std::vector<std::uint64_t>{7}));
  EXPECT_EQ(p("7 and more"), (std::vector<std::uint64_t>{7}));
}

TEST(HoldingsHint, AHugeRangeIsBoundedByTheFileAndTheCap) {
  EXPECT_TRUE(parse_holdings_hint("; it holds 1 of 9 blocks: 0-18446744073709551615", 9).empty());
  const auto big = parse_holdings_hint("; it holds 1 of 9 blocks: 0-4000000000", 4'000'000'001);
  EXPECT_EQ(big.size(), max_hinted_blocks);
  EXPECT_EQ(big.back(), max_hinted_blocks - 1);
}

// The client's side: what a status-2 answer does to what we know of the peer.
TEST(PeerMemoryRefused, AHintBecomesTheHoldingsAndLiftsSoftDontHaves) {
  PeerMemory m;
  m.lacks.note(3, hint_t0 + 750ms);
  m.lacks.note(4, hint_t0 + 750ms, /*firm=*/true);
  m.refused(9, "9 is not currently held by this peer; it holds 3 of 64 blocks: 2-4", 64, hint_t0);
  EXPECT_EQ(m.holds, (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(m.lacks.blocks(), (BlockSet{4, 9})) << "3 lifted; a firm answer and the refusal stay";
  // A message without a hint keeps what was known.
  m.refused(10, "10 is not currently held by this peer", 64, hint_t0);
  EXPECT_EQ(m.holds, (std::vector<std::uint64_t>{2, 3, 4}));
}

TEST(PeerMemoryRefused, BusyAndFirstCopyAnswersAreFirm) {
  PeerMemory m;
  m.refused(5, busy_message(5) + "; it holds 2 of 64 blocks: 5-6", 64, hint_t0);
  m.refused(7, elsewhere_message(7), 64, hint_t0);
  EXPECT_EQ(m.holds, (std::vector<std::uint64_t>{5, 6})) << "a busy peer holds what it refuses";
  m.lacks.forget_expired(hint_t0, hint_t0 + 749ms);  // idle: soft answers would go now
  EXPECT_EQ(m.lacks.blocks(), (BlockSet{5, 7}));
  m.refused(8, "8 is not currently held by this peer; it holds 1 of 64 blocks: 5", 64, hint_t0);
  EXPECT_TRUE(m.lacks.blocks().contains(5)) << "a hint does not lift a firm answer";
  // A busy peer frees a slot soon: its answer goes after busy_memory, the seed's after lack_memory.
  m.lacks.forget_expired(hint_t0 + PeerMemory::busy_memory);
  EXPECT_FALSE(m.lacks.blocks().contains(5));
  EXPECT_TRUE(m.lacks.blocks().contains(7));
  m.lacks.forget_expired(hint_t0 + PeerMemory::lack_memory);
  EXPECT_FALSE(m.lacks.blocks().contains(7));
}

TEST(PeerMemoryRefused, ABusyAnswerAfterAFirstCopyAnswerStillGoesAfterItsOwnTime) {
  PeerMemory m;
  m.refused(7, elsewhere_message(7), 64, hint_t0);
  m.refused(5, busy_message(5), 64, hint_t0 + 100ms);
  m.lacks.forget_expired(hint_t0 + 100ms + PeerMemory::busy_memory);
  EXPECT_EQ(m.lacks.blocks(), (BlockSet{7}))
      << "the busy answer went, the earlier, longer one stays";
  m.lacks.forget_expired(hint_t0 + PeerMemory::lack_memory);
  EXPECT_TRUE(m.lacks.blocks().empty());
}

TEST(PeerMemoryRefused, ADontHaveForAHintedBlockDropsTheHints) {
  PeerMemory m;
  m.refused(1, "1 is not currently held by this peer; it holds 2 of 64 blocks: 2-3", 64, hint_t0);
  ASSERT_EQ(m.holds.size(), 2u);
  m.refused(2, "2 is not currently held by this peer; it holds 1 of 64 blocks: 3", 64, hint_t0);
  EXPECT_TRUE(m.holds.empty()) << "it said it held 2";
  EXPECT_TRUE(m.lacks.blocks().contains(2));
  // A hint naming the very block refused is no hint, and the refusal stands.
  m.refused(6, "6 is not currently held by this peer; it holds 64 of 64 blocks: 0-63", 64, hint_t0);
  EXPECT_TRUE(m.holds.empty());
  EXPECT_TRUE(m.lacks.blocks().contains(6));
}
