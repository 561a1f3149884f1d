// Storage: the data file addressed by blocks; opening never truncates, every block is checked.
#include "peer/storage.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <stdexcept>

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
// Which of the file's pages are in the page cache (mincore over a mapping of it).
std::vector<bool> cached_pages(const std::string& path) {
  const auto size = std::filesystem::file_size(path);
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::size_t pages = (size + page - 1) / page;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw std::runtime_error("cannot map " + path);
  std::vector<unsigned char> in(pages);
  const int r = ::mincore(map, size, in.data());
  ::munmap(map, size);
  if (r != 0) throw std::runtime_error("mincore failed");
  std::vector<bool> cached;
  for (unsigned char c : in) cached.push_back(c & 1);
  return cached;
}
// Whether this directory's file system keeps written pages in the page cache and evicts them
// when told (not tmpfs, whose pages live only in memory, nor a cache-less network file system).
bool page_cache_obeys(const std::string& dir) {
  const std::string probe = dir + "/probe";
  const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  const std::vector<std::uint8_t> page(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), 7);
  const bool written =
      ::pwrite(fd, page.data(), page.size(), 0) == static_cast<ssize_t>(page.size()) &&
      ::fdatasync(fd) == 0;
  const bool cached_at_first = written && cached_pages(probe) == std::vector<bool>{true};
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  const bool obeys = cached_at_first && cached_pages(probe) == std::vector<bool>{false};
  ::unlink(probe.c_str());
  return obeys;
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

// A new file's whole length is reserved on the disk at once, past its size (nothing reads as
// present); a file with bytes already is left as it is. Where it is done: ext4 and XFS.
TEST(Storage, ANewFileHasItsWholeLengthReservedAndStaysEmpty) {
  test::TempDir d;
  struct statfs fs {};
  ASSERT_EQ(::statfs(d.path().c_str(), &fs), 0);
  if (fs.f_type != EXT4_SUPER_MAGIC && fs.f_type != XFS_SUPER_MAGIC)
    GTEST_SKIP() << d.path() << " is on neither ext4 nor XFS, where nothing is reserved";
  if (static_cast<std::uint64_t>(fs.f_bavail) * fs.f_bsize < (64u << 20))
    GTEST_SKIP() << d.path() << ": too little room to reserve in";
  CascadeFile meta;
  meta.target_size = 8 << 20;
  meta.block_size = 1 << 20;
  meta.block_hashes.resize(8);
  auto allocated = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) * 512 : 0;
  };
  {
    Storage fresh(d.file("new"), meta);
    EXPECT_EQ(fresh.current_size(), 0u);
  }
  EXPECT_EQ(std::filesystem::file_size(d.file("new")), 0u);
  EXPECT_GE(allocated(d.file("new")), meta.target_size);
  write_bytes(d.file("part"), Bytes(4096, 1));
  { Storage part(d.file("part"), meta); }
  EXPECT_LT(allocated(d.file("part")), meta.target_size);
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
  // A digest the caller computed is compared as it is (not recomputed), the length still checked.
  EXPECT_TRUE(st.block_matches(1, s.block(1), sha256(s.block(1))));
  EXPECT_FALSE(st.block_matches(1, s.block(1), sha256(s.block(0)))) << "another block's digest";
  EXPECT_FALSE(st.block_matches(2, s.block(2).first(1000), sha256(s.block(2)))) << "a short block";
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

TEST(Storage, DropBehindEvictsThePagesOfHashedDurableBytesUnlessKeepCache) {
  test::TempDir d;
  if (!page_cache_obeys(d.path()))
    GTEST_SKIP() << d.path() << ": its file system does not evict pages on request (tmpfs?)";
  if (::sysconf(_SC_PAGESIZE) != 4096) GTEST_SKIP() << "the sample's blocks are 4096-byte pages";
  Sample s;
  {
    Storage st(d.file("dropped"), s.meta);
    for (std::uint64_t b = 0; b < 3; ++b) st.write_block(b, s.block(b));
    st.done_with_below(8192);  // blocks 0 and 1 are in the whole-file hash
    st.done_with_below(4096);  // an older word never takes that back
    st.drop_behind();          // not durable yet: nothing to evict
    EXPECT_EQ(st.dropped_below(), 0u);
    st.sync();
    st.done_with_below(10000);  // after the sync began: not known to be durable
    st.drop_behind();
    EXPECT_EQ(st.dropped_below(), 8192u);
  }
  EXPECT_EQ(cached_pages(d.file("dropped")), (std::vector<bool>{false, false, true}));
  {  // what the block server asks before sendfile(), and how it reads a block back in
    Storage st(d.file("dropped"), s.meta);
    if (Storage::can_tell_cached()) {  // cachestat(2)
      EXPECT_FALSE(st.cached(0, 4096));
      EXPECT_FALSE(st.cached(8000, 400)) << "a range from an evicted page into a cached one";
    }
    EXPECT_TRUE(st.cached(8192, 1808));
    st.warm(0, 8192);
    EXPECT_TRUE(st.cached(0, 8192));
    EXPECT_EQ(cached_pages(d.file("dropped")), (std::vector<bool>{true, true, true}));
  }
  // The whole file written, hashed, synced; what drop_behind() then says it evicted.
  auto download_whole = [&](const std::string& name, bool keep_cache) {
    Storage st(d.file(name), s.meta);
    st.keep_cache(keep_cache);
    for (std::uint64_t b = 0; b < 3; ++b) st.write_block(b, s.block(b));
    st.done_with_below(10000);
    st.sync();
    st.drop_behind();
    return st.dropped_below();
  };
  EXPECT_EQ(download_whole("kept", true), 0u);
  EXPECT_EQ(cached_pages(d.file("kept")), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(download_whole("whole", false), 10000u) << "the last, partial page goes too";
  EXPECT_EQ(cached_pages(d.file("whole")), (std::vector<bool>{false, false, false}));
  // The dropped bytes are on the disk all the same.
  Storage back(d.file("dropped"), s.meta);
  EXPECT_EQ(back.hash_whole(), s.meta.target_hash);
}
