#include "peer/journal.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/sha256.hpp"
#include "peer/journal_format.hpp"
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

// The bytes, against a journal written by another implementation (Python's struct and zlib:
// tests/fuzz/journal_corpus.py): a snapshot of blocks 0-2 and 9, records for 3 and 19, then a
// torn record.
TEST(JournalFormat, ReadsAndWritesTheBytesAnotherImplementationWrote) {
  std::ifstream in(
      std::string(CASCADE_SOURCE_DIR) + "/tests/fuzz/corpus/journal/snapshot_records_torn",
      std::ios::binary);
  const Bytes file((std::istreambuf_iterator<char>(in)), {});
  ASSERT_EQ(file.size(), 95u + 16 + 16 + 10);
  JournalIdentity id;
  const std::string name = "cascade";
  id.cascade_hash = sha256({reinterpret_cast<const std::uint8_t*>(name.data()), name.size()});
  id.target_size = 20ull << 20;
  id.device = 2049;
  id.inode = 131;
  id.generation = 7;
  id.birth_ns = 1764700000123456789ull;
  id.block_count = 20;
  ASSERT_EQ(journal_identity(file).value_or(JournalIdentity{}).birth_ns, id.birth_ns);
  std::string why;
  const auto got = decode_journal(file, id, &why);
  ASSERT_TRUE(got) << why;
  EXPECT_EQ(*got, bits(20, {0, 1, 2, 3, 9, 19}));
  Bytes expected = encode_journal_header(id, bits(20, {0, 1, 2, 9}));
  encode_journal_record(id.cascade_hash, 3, expected);
  encode_journal_record(id.cascade_hash, 19, expected);
  ASSERT_LE(expected.size(), file.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), file.begin()));
  // Another file's journal, or a replaced data file's, is refused with its reason.
  id.inode = 132;
  EXPECT_FALSE(decode_journal(file, id, &why));
  EXPECT_EQ(why, "the data file was replaced since it was written");
}

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
  EXPECT_EQ(syncs, 2) << "the data file is synced before the snapshot and before the records";
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
    const std::streamoff header = 8 + 32 + 6 * 8 + (100 + 7) / 8 + 4;
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
  for (int field = 0; field < 2; ++field) {  // the same inode number, given to a later file
    auto reborn = identity();
    (field == 0 ? reborn.generation : reborn.birth_ns) = 1;
    why.clear();
    EXPECT_FALSE(Journal::replay(path, reborn, &why)) << field;
    EXPECT_NE(why.find("replaced"), std::string::npos) << why;
  }
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

TEST(Journal, ASnapshotNamingBlocksIsWrittenOnlyOnceTheDataFileIsDurable) {
  // The start-up scan may find blocks that are in the page cache only (a peer killed before its
  // group commit): the snapshot must not vouch for them before they are on the disk.
  test::TempDir d;
  const auto path = d.file("j");
  std::vector<bool> journal_existed_at_sync;
  {
    Journal j(path, identity(), bits(100, {4}),
              [&] { journal_existed_at_sync.push_back(std::filesystem::exists(path)); });
  }
  EXPECT_EQ(journal_existed_at_sync, std::vector<bool>{false});
  EXPECT_EQ(*Journal::replay(path, identity(), nullptr), bits(100, {4}));
  int syncs = 0;
  {
    Journal empty(d.file("k"), identity(), bits(100, {}), [&] { ++syncs; });
  }
  EXPECT_EQ(syncs, 0) << "a snapshot that names no block needs no sync";
}

TEST(Journal, TellsADataFileCreatedInTheOldOnesPlaceEvenWithItsInodeNumber) {
  test::TempDir d;
  const auto data = d.file("data.bin");
  CascadeFile meta;
  meta.target_size = 1000;
  meta.block_size = 1000;
  meta.block_hashes.resize(1);
  Hash256 hash{};
  auto identify = [&] {  // creates the file if it is not there; system calls only, for speed
    const int fd = ::open(data.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0);
    const auto id = Journal::identify(hash, meta, fd);
    ::close(fd);
    return id;
  };
  const Journal::Identity probe = identify();
  if (probe.generation == 0 && probe.birth_ns == 0)
    GTEST_SKIP() << "this file system keeps neither inode generations nor birth times";
  // Deleted and created again at once, as `rm data; cp other data` does: ext4 hands the freed
  // inode number straight to the new file, and with coarse timestamps both may be born in the
  // same clock tick; the inode's generation still differs.
  int same_inode = 0;
  for (int i = 0; i < 50; ++i) {
    const Journal::Identity before = identify();
    ::unlink(data.c_str());
    const Journal::Identity after = identify();
    ::unlink(data.c_str());
    same_inode += after.inode == before.inode;
    EXPECT_FALSE(after.device == before.device && after.inode == before.inode &&
                 after.generation == before.generation && after.birth_ns == before.birth_ns)
        << "round " << i;
  }
  RecordProperty("inode_reused", same_inode);
  const Journal::Identity first = identify();
  {
    Journal j(d.file("j"), first, bits(1, {0}), [] {});
  }
  std::filesystem::remove(data);
  std::string why;
  EXPECT_FALSE(Journal::replay(d.file("j"), identify(), &why));
  EXPECT_NE(why.find("replaced"), std::string::npos) << why;
}

TEST(Journal, AJournalInTheOlderFormatIsIgnoredWithAReason) {
  test::TempDir d;
  const auto path = d.file("j");
  {
    Journal j(path, identity(), bits(100, {1}), [] {});
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(7);
    f.put('1');  // "CJOURNL1"
  }
  std::string why;
  EXPECT_FALSE(Journal::replay(path, identity(), &why));
  EXPECT_NE(why.find("older version"), std::string::npos) << why;
}
