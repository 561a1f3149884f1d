// Creating cascade files: byte for byte what the vectors hold, for any block size.
#include "peer/create.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>

#include "common/file.hpp"
#include "common/hex.hpp"
#include "common/sha256.hpp"
#include "tests/support/process.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;

namespace {
std::string copy_vector(const test::TempDir& d, const std::string& name) {
  const Bytes b = test::vector_file(name);
  std::ofstream(d.file(name), std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), b.size());
  return d.file(name);
}
}  // namespace

TEST(MakeCascade, WritesTheVectorCascadeFilesByteForByte) {
  test::TempDir d;
  ThreadPool pool(2);
  for (const std::string name : {"sample.txt", "even.bin", "empty.bin"}) {
    const auto& v = test::vectors()[name];
    const CascadeFile f =
        make_cascade(copy_vector(d, name), v["block_size"].get<std::uint64_t>(), pool);
    EXPECT_EQ(encode_cascade_file(f), test::vector_file(name + ".cascade")) << name;
    EXPECT_EQ(to_hex(sha256(encode_cascade_file(f))), v["cascade_hash"].get<std::string>()) << name;
  }
}

TEST(MakeCascade, AnyBlockSizeGivesConsistentHashes) {
  test::TempDir d;
  ThreadPool pool(2);
  const std::string path = copy_vector(d, "sample.txt");
  const Bytes data = test::vector_file("sample.txt");
  for (std::uint64_t bs : {1ull, 1000ull, 4096ull, 9999ull, 10000ull, 1ull << 20}) {
    const CascadeFile f = make_cascade(path, bs, pool);
    ASSERT_EQ(f.block_count(), block_count_for(10000, bs)) << bs;
    EXPECT_EQ(f.target_hash, sha256(data));
    const std::uint64_t last = f.block_count() - 1;
    EXPECT_EQ(f.block_hashes[last],
              sha256(ByteSpan(data.data() + f.block_offset(last), f.block_length(last))));
  }
}

TEST(MakeCascade, AMissingDataFileIsAFileErrorNamingIt) {
  ThreadPool pool(1);
  try {
    make_cascade("/nonexistent/data", 4096, pool);
    FAIL();
  } catch (const FileError& e) {
    EXPECT_EQ(e.error, ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/data"), std::string::npos);
  }
}

TEST(LoadCascadeFile, ReadsTheVectorAndItsHash) {
  test::TempDir d;
  const LoadedCascade l = load_cascade_file(copy_vector(d, "sample.txt.cascade"));
  EXPECT_EQ(l.file.target_size, 10000u);
  EXPECT_EQ(to_hex(l.cascade_hash),
            test::vectors()["sample.txt"]["cascade_hash"].get<std::string>());
}

TEST(LoadCascadeFile, RefusesBlocksLargerThanTheLimitAndGarbage) {
  test::TempDir d;
  const std::string path = copy_vector(d, "sample.txt.cascade");
  EXPECT_THROW(load_cascade_file(path, 4095), CascadeLoadError);
  EXPECT_NO_THROW(load_cascade_file(path, 4096));
  d.write("bad.cascade", "not a cascade file at all");
  try {
    load_cascade_file(d.file("bad.cascade"));
    FAIL();
  } catch (const CascadeLoadError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.cascade"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_cascade_file(d.file("missing.cascade")), CascadeLoadError);
}
