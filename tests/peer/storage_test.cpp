// Storage: the data file addressed by blocks; opening never truncates, every block is checked.
#include "peer/storage.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "peer/create.hpp"
#include "tests/support/process.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;

namespace {
// The sample vector: 10000 bytes in blocks of 4096 (the last one 1808).
struct Sample {
  CascadeFile meta =
      *decode_cascade_file(test::vector_file("sample.txt.cascade"), CascadeLimits{1 << 20}).value;
  Bytes data = test::vector_file("sample.txt");
  ByteSpan block(std::uint64_t b) const {
    return ByteSpan(data.data() + meta.block_offset(b), meta.block_length(b));
  }
};
void write_bytes(const std::string& path, ByteSpan bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
}  // namespace

TEST(Storage, OpensANewFileEmptyAndAnExistingOneWithoutTruncating) {
  test::TempDir d;
  Sample s;
  {
    Storage fresh(d.file("new"), s.meta);
    EXPECT_EQ(fresh.current_size(), 0u);
  }
  write_bytes(d.file("part"), s.block(0));
  Storage part(d.file("part"), s.meta);
  EXPECT_EQ(part.current_size(), 4096u);
}

TEST(Storage, RefusesADataFileLongerThanItsCascadeFileSays) {
  test::TempDir d;
  Sample s;
  Bytes longer = s.data;
  longer.push_back(0);
  write_bytes(d.file("long"), longer);
  try {
    Storage st(d.file("long"), s.meta);
    FAIL() << "a longer data file was accepted";
  } catch (const FileError& e) {
    EXPECT_EQ(e.error, EFBIG);
    EXPECT_NE(std::string(e.what()).find("10001 bytes"), std::string::npos) << e.what();
  }
}

TEST(Storage, BlockMatchesChecksTheHashAndTheLength) {
  test::TempDir d;
  Sample s;
  Storage st(d.file("f"), s.meta);
  EXPECT_TRUE(st.block_matches(0, s.block(0)));
  EXPECT_TRUE(st.block_matches(2, s.block(2)));
  EXPECT_FALSE(st.block_matches(1, s.block(0))) << "another block's bytes";
  Bytes flipped(s.block(1).begin(), s.block(1).end());
  flipped[100] ^= 1;
  EXPECT_FALSE(st.block_matches(1, flipped));
  EXPECT_FALSE(st.block_matches(2, s.block(2).first(1000))) << "a short block";
}

TEST(Storage, WrittenBlocksReadBackAtTheirOffsets) {
  test::TempDir d;
  Sample s;
  Storage st(d.file("f"), s.meta);
  st.write_block(2, s.block(2));
  st.write_block(0, s.block(0));
  Bytes back(s.meta.block_length(2));
  st.read(s.meta.block_offset(2), back);
  EXPECT_TRUE(std::equal(back.begin(), back.end(), s.block(2).begin()));
  EXPECT_EQ(st.current_size(), 10000u);
}

TEST(Storage, ScanFindsTheBlocksThatHashRightAndTrustsKnownOnes) {
  test::TempDir d;
  Sample s;
  Bytes data = s.data;
  data[5000] ^= 0xff;                                     // block 1 is damaged
  write_bytes(d.file("f"), ByteSpan(data.data(), 9000));  // block 2 is cut short
  Storage st(d.file("f"), s.meta);
  ThreadPool pool(2);
  EXPECT_EQ(st.scan(pool), (std::vector<bool>{true, false, false}));
  // What the caller already knows (a journal) is taken as it is, without hashing.
  EXPECT_EQ(st.scan(pool, {false, true, false}), (std::vector<bool>{true, true, false}));
}

TEST(Storage, HashWholeIsTheDataFilesSha256) {
  test::TempDir d;
  Sample s;
  write_bytes(d.file("f"), s.data);
  Storage st(d.file("f"), s.meta);
  EXPECT_EQ(st.hash_whole(), s.meta.target_hash);
  Sha256 h;
  st.hash_range(h, 0, 4096);
  EXPECT_EQ(h.finish(), s.meta.block_hashes[0]);
}
