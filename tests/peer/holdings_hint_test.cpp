#include "peer/holdings_hint.hpp"

#include <gtest/gtest.h>

#include "peer/block_server.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;

namespace {
std::vector<bool> held(std::size_t n, std::initializer_list<std::uint64_t> blocks) {
  std::vector<bool> v(n, false);
  for (auto b : blocks) v[b] = true;
  return v;
}
}  // namespace

TEST(HoldingsHint, ListsHeldBlocksAsRanges) {
  EXPECT_EQ(holdings_hint(held(64, {0, 1, 2, 3, 7, 9, 10, 63})),
            "; it holds 8 of 64 blocks: 0-3,7,9-10,63");
  EXPECT_EQ(holdings_hint(held(3, {1})), "; it holds 1 of 3 blocks: 1");
}

TEST(HoldingsHint, SaysNothingWhenNoneOrAllAreHeld) {
  // A peer holding nothing sends the plain message: the vector's bytes exactly.
  EXPECT_EQ(holdings_hint(held(3, {})), "");
  EXPECT_EQ(holdings_hint(held(3, {0, 1, 2})), "");
  EXPECT_EQ(not_held_message(2) + holdings_hint(held(3, {})),
            test::vectors()["peer_error_response_not_held"]["message"].get<std::string>());
}

TEST(HoldingsHint, ALongListIsCutAtItsLimitAndSaysSo) {
  std::vector<bool> every_other(100'000, false);
  for (std::size_t b = 0; b < every_other.size(); b += 2) every_other[b] = true;
  const std::string hint = holdings_hint(every_other);
  EXPECT_LE(hint.size(), max_holdings_hint);
  EXPECT_GT(hint.size(), max_holdings_hint - 12);
  EXPECT_EQ(hint.substr(hint.size() - 4), ",...");
  const auto parsed = parse_holdings_hint("x" + hint, every_other.size());
  ASSERT_FALSE(parsed.empty());
  for (std::size_t i = 0; i < parsed.size(); ++i) EXPECT_EQ(parsed[i], 2 * i);
  // Even the first range too long for the limit: no list at all, still marked cut.
  EXPECT_EQ(holdings_hint(held(64, {5}), 30), "; it holds 1 of 64 blocks: ...");
}

TEST(HoldingsHint, ParsesWhatItWrites) {
  const auto h = held(40, {0, 1, 2, 5, 30, 31, 39});
  EXPECT_EQ(parse_holdings_hint(not_held_message(7) + holdings_hint(h), 40),
            (std::vector<std::uint64_t>{0, 1, 2, 5, 30, 31, 39}));
  EXPECT_EQ(parse_holdings_hint(busy_message(7) + holdings_hint(h), 40).size(), 7u);
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
