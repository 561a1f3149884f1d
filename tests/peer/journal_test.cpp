#include "peer/journal.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/process.hpp"

using namespace cascade;

namespace {
Journal::Identity identity(std::uint64_t blocks = 100) {
  Journal::Identity id;
  id.cascade_hash.fill(0xab);
  id.target_size = blocks * 1000;
  id.device = 1;
  id.inode = 42;
  id.block_count = blocks;
  return id;
}
std::vector<bool> bits(std::uint64_t n, std::initializer_list<std::uint64_t> set) {
  std::vector<bool> v(n, false);
  for (auto b : set) v[b] = true;
  return v;
}
std::size_t file_size(const std::string& p) {
  return std::filesystem::file_size(p);
}
}  // namespace

TEST(Crc32, MatchesTheStandardCheckValue) {
  const std::string s = "123456789";
  EXPECT_EQ(crc32({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}), 0xCBF43926u);
}

TEST(Journal, ReplaysTheSnapshotAndEveryFlushedRecord) {
  test::TempDir d;
  const auto path = d.file("j");
  int syncs = 0;
  {
    Journal j(path, identity(), bits(100, {1, 2}), [&] { ++syncs; });
    j.add(10);
    j.add(11);
    j.flush();
    j.add(12);  // never flushed: not durable, not in the journal
  }
  EXPECT_EQ(syncs, 1) << "the data file is synced before records are written";
  std::string why;
  auto r = Journal::replay(path, identity(), &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(*r, bits(100, {1, 2, 10, 11}));
}

TEST(Journal, ATornOrCorruptTailIsIgnored) {
  test::TempDir d;
  const auto path = d.file("j");
  {
    Journal j(path, identity(), bits(100, {}), [] {});
    j.add(5);
    j.flush();
    j.add(6);
    j.flush();
  }
  std::filesystem::resize_file(path, file_size(path) - 3);  // torn second record
  EXPECT_EQ(*Journal::replay(path, identity(), nullptr), bits(100, {5}));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff header = 8 + 32 + 4 * 8 + (100 + 7) / 8 + 4;
    f.seekp(header + 3);  // inside the first record's block index: its CRC no longer matches
    f.put('\x7f');
  }
  EXPECT_EQ(*Journal::replay(path, identity(), nullptr), bits(100, {}));
}

TEST(Journal, ReplayingTwiceIsHarmlessAndDuplicatesAreIdempotent) {
  test::TempDir d;
  const auto path = d.file("j");
  {
    Journal j(path, identity(), bits(100, {}), [] {});
    j.add(3);
    j.add(3);
    j.flush();
  }
  auto a = Journal::replay(path, identity(), nullptr);
  auto b = Journal::replay(path, identity(), nullptr);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, bits(100, {3}));
}

TEST(Journal, IsIgnoredForAnotherFileOrAReplacedDataFile) {
  test::TempDir d;
  const auto path = d.file("j");
  {
    Journal j(path, identity(), bits(100, {7}), [] {});
  }
  std::string why;
  auto other = identity();
  other.cascade_hash[0] = 0;
  EXPECT_FALSE(Journal::replay(path, other, &why));
  EXPECT_NE(why.find("another cascade file"), std::string::npos) << why;
  auto replaced = identity();
  replaced.inode = 43;
  EXPECT_FALSE(Journal::replay(path, replaced, &why));
  EXPECT_NE(why.find("replaced"), std::string::npos) << why;
  EXPECT_FALSE(Journal::replay(d.file("missing"), identity(), &why));
  EXPECT_TRUE(why.empty()) << "no journal is not an error";
  d.write("junk", "not a journal at all, just text");
  EXPECT_FALSE(Journal::replay(d.file("junk"), identity(), &why));
}

TEST(Journal, CompactsSoItNeverGrowsWithoutBound) {
  test::TempDir d;
  const auto path = d.file("j");
  Journal j(path, identity(10), bits(10, {}), [] {});
  for (int round = 0; round < 3000; ++round) {
    j.add(static_cast<std::uint64_t>(round % 10));
    j.flush();
  }
  EXPECT_LT(file_size(path), 4200u * 16 + 200);
  EXPECT_EQ(*Journal::replay(path, identity(10), nullptr), std::vector<bool>(10, true));
}

TEST(Journal, RemoveDeletesItAndLaterFlushesDoNothing) {
  test::TempDir d;
  const auto path = d.file("j");
  Journal j(path, identity(), bits(100, {}), [] {});
  j.remove();
  j.add(1);
  j.flush();
  EXPECT_FALSE(std::filesystem::exists(path));
}
