#include "proto/cascade_file.hpp"

#include <gtest/gtest.h>

#include "common/hex.hpp"
#include "common/sha256.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;
using cascade::test::vector_file;
using cascade::test::vectors;

namespace {

// Just the 64-byte header of a cascade file claiming `size` bytes in blocks of `block`.
Bytes header(std::uint64_t size, std::uint64_t block) {
  Bytes b(cascade_header_size, 0);
  std::copy(cascade_magic.begin(), cascade_magic.end(), b.begin());
  store_be64(b.data() + 16, size);
  store_be64(b.data() + 24, block);
  return b;
}

}  // namespace

class CascadeVector : public ::testing::TestWithParam<std::string> {};

TEST_P(CascadeVector, DecodesToTheRecordedFactsAndReencodesByteForByte) {
  const std::string name = GetParam();
  const auto& v = vectors().at(name);
  const Bytes bytes = vector_file(v.contains("cascade_file") ? v["cascade_file"].get<std::string>()
                                                             : name + ".cascade");
  auto d = decode_cascade_file(bytes);
  ASSERT_TRUE(d.ok()) << describe(d.error);
  const CascadeFile& f = *d.value;
  EXPECT_EQ(f.target_size, v["size"].get<std::uint64_t>());
  EXPECT_EQ(f.block_size, v["block_size"].get<std::uint64_t>());
  EXPECT_EQ(f.block_count(), v["block_count"].get<std::uint64_t>());
  EXPECT_EQ(to_hex(f.target_hash), v["sha256"].get<std::string>());
  if (v.contains("last_block_size")) {
    EXPECT_EQ(f.block_length(f.block_count() - 1), v["last_block_size"].get<std::uint64_t>());
  }
  if (v.contains("block_sha256")) {
    for (std::size_t i = 0; i < f.block_count(); ++i) {
      EXPECT_EQ(to_hex(f.block_hashes[i]), v["block_sha256"][i].get<std::string>());
    }
  }
  EXPECT_EQ(to_hex(sha256(bytes)), v["cascade_hash"].get<std::string>());
  EXPECT_EQ(encode_cascade_file(f), bytes);
}

TEST_P(CascadeVector, BlockHashesMatchTheDataFile) {
  const std::string name = GetParam();
  const Bytes data = vector_file(name);
  auto f = *decode_cascade_file(vector_file(name + ".cascade")).value;
  ASSERT_EQ(data.size(), f.target_size);
  EXPECT_EQ(sha256(data), f.target_hash);
  std::uint64_t covered = 0;
  for (std::uint64_t i = 0; i < f.block_count(); ++i) {
    EXPECT_EQ(f.block_offset(i), covered);
    ByteSpan block(data.data() + f.block_offset(i), f.block_length(i));
    EXPECT_EQ(sha256(block), f.block_hashes[i]) << "block " << i;
    covered += f.block_length(i);
  }
  EXPECT_EQ(covered, f.target_size);
}

INSTANTIATE_TEST_SUITE_P(Vectors, CascadeVector,
                         ::testing::Values("sample.txt", "even.bin", "empty.bin"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '.') c = '_';
                           return n;
                         });

TEST(CascadeFileDecode, EveryProperPrefixOfAVectorIsTruncatedAtItsEnd) {
  const Bytes bytes = vector_file("sample.txt.cascade");
  for (std::size_t n = 8; n < bytes.size(); ++n) {
    auto d = decode_cascade_file(ByteSpan(bytes).first(n));
    ASSERT_FALSE(d.ok()) << n;
    EXPECT_EQ(d.error, ProtoError::truncated) << n;
    // The offset is where the data ran out, rounded down to a whole hash inside the table.
    const std::size_t expect =
        n < cascade_header_size ? n : cascade_header_size + (n - cascade_header_size) / 32 * 32;
    EXPECT_EQ(d.offset, expect) << n;
  }
}

TEST(CascadeFileDecode, EmptyInputIsTruncatedAtZero) {
  auto d = decode_cascade_file({});
  EXPECT_EQ(d.error, ProtoError::truncated);
  EXPECT_EQ(d.offset, 0u);
}

TEST(CascadeFileDecode, RejectsWrongMagicAtOffsetZero) {
  Bytes b = vector_file("sample.txt.cascade");
  b[7] = '2';
  auto d = decode_cascade_file(b);
  EXPECT_EQ(d.error, ProtoError::bad_magic);
  EXPECT_EQ(d.offset, 0u);
}

TEST(CascadeFileDecode, RejectsWrongMagicEvenWhenTruncated) {
  const Bytes b = {'C', 'A', 'S', 'C', 'A', 'D', 'E', '2', 0};
  EXPECT_EQ(decode_cascade_file(b).error, ProtoError::bad_magic);
}

TEST(CascadeFileDecode, RejectsBlockSizeZeroAtOffset24) {
  auto d = decode_cascade_file(header(0, 0));
  EXPECT_EQ(d.error, ProtoError::bad_block_size);
  EXPECT_EQ(d.offset, 24u);
}

TEST(CascadeFileDecode, RejectsBlockSizeAboveTheReadersLimit) {
  Bytes b = header(100, 64);
  b.resize(cascade_header_size + 2 * 32);
  EXPECT_TRUE(decode_cascade_file(b, CascadeLimits{64}).ok());
  auto d = decode_cascade_file(b, CascadeLimits{63});
  EXPECT_EQ(d.error, ProtoError::bad_block_size);
  EXPECT_EQ(d.offset, 24u);
}

TEST(CascadeFileDecode, RejectsABlockCountNoMemoryCouldHoldWithoutAllocating) {
  auto d = decode_cascade_file(header(~0ull, 1));
  EXPECT_EQ(d.error, ProtoError::size_overflow);
  EXPECT_EQ(d.offset, 16u);
}

TEST(CascadeFileDecode, HugeClaimedCountWithShortTableIsTruncatedNotAllocated) {
  // 2^40 blocks claimed, 3 hashes present: must fail on length before any allocation.
  Bytes b = header(1ull << 40, 1);
  b.resize(cascade_header_size + 3 * 32 + 5);
  auto d = decode_cascade_file(b);
  EXPECT_EQ(d.error, ProtoError::truncated);
  EXPECT_EQ(d.offset, cascade_header_size + 3 * 32);
}

TEST(CascadeFileDecode, FewerHashesThanBlocksIsTruncated) {
  Bytes b = vector_file("sample.txt.cascade");
  b.resize(b.size() - 32);
  auto d = decode_cascade_file(b);
  EXPECT_EQ(d.error, ProtoError::truncated);
  EXPECT_EQ(d.offset, cascade_header_size + 2 * 32);
}

TEST(CascadeFileDecode, IgnoresBytesAfterTheLastHash) {
  Bytes b = vector_file("sample.txt.cascade");
  const auto original = *decode_cascade_file(b).value;
  b.insert(b.end(), {1, 2, 3, 4, 5});
  auto d = decode_cascade_file(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d.value, original);
}

TEST(CascadeFileDecode, IgnoresTheReservedField) {
  Bytes b = vector_file("sample.txt.cascade");
  const auto original = *decode_cascade_file(b).value;
  for (int i = 8; i < 16; ++i) b[i] = 0xff;
  EXPECT_EQ(*decode_cascade_file(b).value, original);
}

TEST(CascadeFileGeometry, LastBlockIsTheRemainderOrAWholeBlock) {
  CascadeFile f;
  f.target_size = 10000;
  f.block_size = 4096;
  EXPECT_EQ(block_count_for(10000, 4096), 3u);
  EXPECT_EQ(f.block_length(0), 4096u);
  EXPECT_EQ(f.block_length(2), 1808u);
  EXPECT_EQ(f.block_offset(2), 8192u);
  EXPECT_EQ(block_count_for(8192, 4096), 2u);
  f.target_size = 8192;
  EXPECT_EQ(f.block_length(1), 4096u);
  EXPECT_EQ(block_count_for(0, 4096), 0u);
  EXPECT_EQ(block_count_for(1, 4096), 1u);
}

TEST(CascadeFileEncode, RoundTripsArbitraryFiles) {
  for (std::uint64_t size : {0ull, 1ull, 4095ull, 4096ull, 4097ull, 100000ull}) {
    CascadeFile f;
    f.target_size = size;
    f.block_size = 4096;
    f.block_hashes.resize(block_count_for(size, 4096));
    for (std::size_t i = 0; i < f.block_hashes.size(); ++i)
      f.block_hashes[i][i % 32] = static_cast<std::uint8_t>(i + 1);
    f.target_hash[5] = 9;
    const Bytes b = encode_cascade_file(f);
    EXPECT_EQ(b.size(), cascade_header_size + 32 * f.block_count());
    auto d = decode_cascade_file(b);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d.value, f);
  }
}
