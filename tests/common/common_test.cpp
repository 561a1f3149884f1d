#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <unordered_set>

#include "common/endpoint.hpp"
#include "common/hex.hpp"
#include "common/sha256.hpp"
#include "common/thread_pool.hpp"
#include "common/token_bucket.hpp"
#include "common/units.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;

TEST(Sha256, MatchesKnownDigests) {
  EXPECT_EQ(to_hex(sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string abc = "abc";
  EXPECT_EQ(to_hex(sha256({reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsOneShotForEverySplit) {
  const Bytes data = test::vector_file("sample.txt");
  const Hash256 whole = sha256(data);
  EXPECT_EQ(to_hex(whole), test::vectors()["sample.txt"]["sha256"].get<std::string>());
  Sha256 h;
  for (std::size_t split : {0ul, 1ul, 63ul, 64ul, 65ul, 4096ul, 9999ul}) {
    h.update(ByteSpan(data).first(split));
    h.update(ByteSpan(data).subspan(split));
    EXPECT_EQ(h.finish(), whole) << split;  // finish() also resets for the next round
  }
}

// Cascade hashes are chosen by clients: hashes that differ in any one byte only, wherever it is,
// still spread over the buckets (keyed by every byte, not the first few).
TEST(HashKey, HashesThatDifferInOneByteOnlySpreadOverTheBuckets) {
  for (std::size_t at : {0u, 7u, 8u, 20u, 31u}) {
    std::unordered_set<std::size_t> values;
    std::unordered_set<Hash256, HashKey> set;
    for (unsigned v = 0; v < 256; ++v) {
      Hash256 h{};
      h[at] = static_cast<std::uint8_t>(v);
      values.insert(HashKey{}(h));
      set.insert(h);
    }
    EXPECT_EQ(values.size(), 256u) << "byte " << at;
    // No bucket holds more than a few of them.
    std::size_t fullest = 0;
    for (std::size_t b = 0; b < set.bucket_count(); ++b)
      fullest = std::max(fullest, set.bucket_size(b));
    EXPECT_LE(fullest, 8u) << "byte " << at;
  }
}

TEST(Hex, RoundTripsAndRejectsJunk) {
  const Bytes b = {0x00, 0x7f, 0xff, 0xab};
  EXPECT_EQ(to_hex(b), "007fffab");
  EXPECT_EQ(*from_hex("007FFFab"), b);
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_FALSE(hash_from_hex(std::string(63, 'a')));
  EXPECT_TRUE(hash_from_hex(std::string(64, 'a')));
  EXPECT_FALSE(hash_from_hex(std::string(62, 'a') + "g0"));
}

TEST(Endpoint, ParsesStrictDottedQuadsAndPorts) {
  EXPECT_EQ(parse_ipv4("127.0.0.1"), 0x7f000001u);
  EXPECT_EQ(parse_ipv4("255.255.255.255"), 0xffffffffu);
  for (const char* bad : {"256.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3", "a.b.c.d", " 1.2.3.4",
                          "1.2.3.4 ", "", "1234.1.1.1"})
    EXPECT_FALSE(parse_ipv4(bad)) << bad;
  auto e = parse_endpoint("10.0.0.5:7001");
  ASSERT_TRUE(e);
  EXPECT_EQ(to_string(*e), "10.0.0.5:7001");
  EXPECT_FALSE(parse_endpoint("10.0.0.5:0"));
  EXPECT_TRUE(parse_endpoint("10.0.0.5:0", true));
  EXPECT_FALSE(parse_endpoint("10.0.0.5:65536"));
  EXPECT_FALSE(parse_endpoint("10.0.0.5"));
  EXPECT_FALSE(parse_endpoint("10.0.0.5:-1"));
  EXPECT_EQ(parse_port("65535"), 65535);
  for (const char* bad : {"0", "65536", "99999", "", "+1", "1x", "123456"})
    EXPECT_FALSE(parse_port(bad)) << bad;
  EXPECT_EQ(parse_port("0", true), 0);
}

TEST(Endpoint, PrivateRangesAreRfc1918) {
  EXPECT_TRUE(is_private_ipv4(*parse_ipv4("10.1.2.3")));
  EXPECT_TRUE(is_private_ipv4(*parse_ipv4("172.16.0.1")));
  EXPECT_TRUE(is_private_ipv4(*parse_ipv4("172.31.255.255")));
  EXPECT_FALSE(is_private_ipv4(*parse_ipv4("172.32.0.1")));
  EXPECT_TRUE(is_private_ipv4(*parse_ipv4("192.168.1.20")));
  EXPECT_FALSE(is_private_ipv4(*parse_ipv4("192.169.1.20")));
  EXPECT_FALSE(is_private_ipv4(*parse_ipv4("127.0.0.1")));
  EXPECT_FALSE(is_private_ipv4(*parse_ipv4("8.8.8.8")));
}

TEST(Units, ParsesBinarySizes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("64k"), 65536u);
  EXPECT_EQ(parse_size("1MiB"), 1048576u);
  EXPECT_EQ(parse_size("1M"), 1048576u);
  EXPECT_EQ(parse_size("2GB"), 2147483648u);
  EXPECT_FALSE(parse_size("MiB"));
  EXPECT_FALSE(parse_size("1 MiB"));
  EXPECT_FALSE(parse_size("1TiB"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_FALSE(parse_size("17179869184G"));  // overflows 64 bits
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(1536 * 1024), "1.5 MiB");
}

TEST(Units, ParsesRatesAsPeopleWriteThem) {
  EXPECT_EQ(parse_rate("512KiB/s"), 524288u);
  EXPECT_EQ(parse_rate("20MB/s"), 20'000'000u) << "MB is 10^6 here";
  EXPECT_EQ(parse_rate("20MiB/s"), 20u << 20);
  EXPECT_EQ(parse_rate("100Mbit/s"), 12'500'000u);
  EXPECT_EQ(parse_rate("100mbit"), 12'500'000u);
  EXPECT_EQ(parse_rate("1.5MB/s"), 1'500'000u);
  EXPECT_EQ(parse_rate("1Gbit/s"), 125'000'000u);
  EXPECT_EQ(parse_rate("4096"), 4096u);
  EXPECT_EQ(parse_rate("300B/s"), 300u);
  EXPECT_EQ(parse_rate("0"), 0u) << "0: unlimited, for the caller";
  EXPECT_EQ(parse_rate("20mB/s"), 20'000'000u);
  for (const char* bad : {"", "fast", "20 MB/s", "-5MB/s", "20MB/h", "20b/s", "/s", "1e30GB/s",
                          "MB/s", "20MB/s/s", "100Mb/s", "5kb", "1gb/s"})
    EXPECT_FALSE(parse_rate(bad)) << bad;
}

TEST(Units, ParsesDurationsAsPeopleWriteThem) {
  EXPECT_EQ(parse_duration("90"), 90.0);
  EXPECT_EQ(parse_duration("30s"), 30.0);
  EXPECT_EQ(parse_duration("10m"), 600.0);
  EXPECT_EQ(parse_duration("2h"), 7200.0);
  EXPECT_EQ(parse_duration("1d"), 86400.0);
  EXPECT_EQ(parse_duration("1h30m"), 5400.0);
  EXPECT_EQ(parse_duration("0.5s"), 0.5);
  EXPECT_EQ(parse_duration("0"), 0.0);
  for (const char* bad : {"", "s", "soon", "-1s", "10 m", "1h30", "5w", "1e9d", "10ms"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(TokenBucket, GivesTheRateAfterTheBurstAndSharesItInOrder) {
  using namespace std::chrono_literals;
  const auto t0 = TokenBucket::Clock::time_point{} + 100s;
  TokenBucket b(1'000'000, 100'000);  // 1 MB/s, 100 kB burst
  EXPECT_EQ(b.take(100'000, t0), 0s) << "the burst is there at once";
  // Two senders taking 50 kB each at the same moment: the second waits for both.
  EXPECT_EQ(b.take(50'000, t0), 50ms);
  EXPECT_EQ(b.take(50'000, t0), 100ms);
  // 1 s later the debt is paid and 900 kB are back, up to the burst.
  EXPECT_EQ(b.take(100'000, t0 + 1s), 0s);
  EXPECT_EQ(b.take(1'000'000, t0 + 1s), 1s);
  // Over a long run the average is the rate: 10 MB in 1 kB pieces, sent as told.
  TokenBucket c(1'000'000, 10'000);
  auto now = t0;
  for (int i = 0; i < 10'000; ++i) now += c.take(1000, now);
  EXPECT_NEAR(std::chrono::duration<double>(now - t0).count(), 9.99, 0.02);
  EXPECT_TRUE(TokenBucket(0).unlimited());
  EXPECT_EQ(TokenBucket(0).take(1 << 30, t0), 0s);
}

TEST(ThreadPool, SubmitReturnsResultsAndPropagatesExceptions) {
  ThreadPool pool(2);
  EXPECT_EQ(pool.size(), 2u);
  auto f = pool.submit([] { return 6 * 7; });
  EXPECT_EQ(f.get(), 42);
  auto g = pool.submit([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_THROW(g.get(), std::runtime_error);
}

TEST(ThreadPool, StopDrainsEveryQueuedTask) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 1000; ++i) pool.post([&done] { done.fetch_add(1); });
    pool.stop();
    EXPECT_EQ(done.load(), 1000);
    pool.post([&done] { done.fetch_add(1); });  // after stop: runs inline
    EXPECT_EQ(done.load(), 1001);
  }
}

TEST(ThreadPool, RunsTasksOnSeveralThreadsAtOnce) {
  ThreadPool pool(2);
  std::atomic<int> inside{0}, peak{0};
  std::vector<std::future<void>> fs;
  for (int i = 0; i < 4; ++i)
    fs.push_back(pool.submit([&] {
      const int now = ++inside;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      // Each task waits (up to 5 s, for a loaded machine) for a second one to be inside with it.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (std::chrono::steady_clock::now() < until && peak.load() < 2) std::this_thread::yield();
      --inside;
    }));
  for (auto& f : fs) f.get();
  EXPECT_EQ(peak.load(), 2);
}

TEST(ThreadPool, AcceptsMoveOnlyTasks) {
  ThreadPool pool(1);
  auto p = std::make_unique<int>(5);
  std::promise<int> result;
  auto fut = result.get_future();
  pool.post([p = std::move(p), &result] { result.set_value(*p); });
  EXPECT_EQ(fut.get(), 5);
}

#include "common/connection_limits.hpp"

TEST(ConnectionLimits, CountsPerAddressAndReleases) {
  ConnectionLimits l(100, 2);
  EXPECT_TRUE(l.try_admit(1));
  EXPECT_TRUE(l.try_admit(1));
  EXPECT_FALSE(l.try_admit(1));
  EXPECT_TRUE(l.try_admit(2));
  EXPECT_EQ(l.active(), 3u);
  l.release(1);
  EXPECT_TRUE(l.try_admit(1));
}

TEST(ConnectionLimits, TheWholeCapRefusesEveryAddressAndCountsNothing) {
  ConnectionLimits l(2, 10);
  EXPECT_TRUE(l.try_admit(1));
  EXPECT_TRUE(l.try_admit(2));
  EXPECT_FALSE(l.try_admit(3));
  EXPECT_EQ(l.active(), 2u);
  l.release(3);  // never admitted: no effect
  EXPECT_EQ(l.active(), 2u);
  l.release(2);
  EXPECT_TRUE(l.try_admit(3));
}

#include <thread>

#include "common/system.hpp"
#include "tests/support/process.hpp"

// CPU time counts work done, not time waited; a thread's own count leaves out other threads.
TEST(System, CpuSecondsCountsWorkAndSeparatesThreads) {
  auto spin = [](double seconds) {
    const double until = cpu_seconds(true) + seconds;
    volatile std::uint64_t x = 0;
    while (cpu_seconds(true) < until) x = x + 1;  // bounded: the thread's own CPU time grows
  };
  const double process_before = cpu_seconds(), thread_before = cpu_seconds(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LT(cpu_seconds(true) - thread_before, 0.05);  // sleeping is not work
  std::thread other([&] { spin(0.1); });
  other.join();
  EXPECT_LT(cpu_seconds(true) - thread_before, 0.05);  // the other thread's work is not ours
  EXPECT_GE(cpu_seconds() - process_before, 0.09);     // but it is the process's
}

TEST(System, CpuQuotasRoundUpToWholeCores) {
  EXPECT_EQ(cores_from_cpu_max("max 100000\n"), 0u);  // cgroup v2: no limit
  EXPECT_EQ(cores_from_cpu_max("150000 100000\n"), 2u);
  EXPECT_EQ(cores_from_cpu_max("100000 100000"), 1u);
  EXPECT_EQ(cores_from_cpu_max("50000 100000"), 1u);
  EXPECT_EQ(cores_from_cpu_max("400000 100000"), 4u);
  for (const char* bad :
       {"", "max", "100000", "x 100000", "100000 y", "-5 100000", "0 100000", "100000 0", "1 2 3"})
    EXPECT_EQ(cores_from_cpu_max(bad), 0u) << '"' << bad << '"';
  EXPECT_EQ(cores_from_quota(-1, 100000), 0u);  // cgroup v1: no limit
  EXPECT_EQ(cores_from_quota(250000, 100000), 3u);
}

TEST(System, UsableCoresFollowTheAffinityMask) {
  const unsigned all = usable_cores();
  EXPECT_GE(all, 1u);
  EXPECT_LE(all, std::max(1u, std::thread::hardware_concurrency()));
  unsigned pinned = 0;
  std::thread([&] {
    ASSERT_TRUE(test::pin_this_thread_to_one_cpu());
    pinned = usable_cores();
  }).join();
  EXPECT_EQ(pinned, 1u);
  EXPECT_EQ(usable_cores(), all);  // the test's own thread is untouched
}

#include "common/metrics.hpp"

TEST(Metrics, WritesTheTextFormatWithEscapedUtf8Labels) {
  metrics::Writer w;
  w.family("x_total", "counter", "Things.\nCounted \\ here.");
  w.sample("x_total", 12345678901, {{"file", "a\"b\\c\nd"}, {"k", "\xff\xfe-ok-\xc3\xa9"}});
  w.sample("x_total", 0.00025);
  EXPECT_EQ(
      w.text(),
      "# HELP x_total Things.\\nCounted \\\\ here.\n"
      "# TYPE x_total counter\n"
      "x_total{file=\"a\\\"b\\\\c\\nd\",k=\"\xEF\xBF\xBD\xEF\xBF\xBD-ok-\xc3\xa9\"} 12345678901\n"
      "x_total 0.00025\n");
}

TEST(Metrics, AHistogramCountsEachObservationInOneBucketAndWritesThemCumulatively) {
  metrics::Histogram h;
  h.observe(0.00005);  // first bucket (le 0.0001)
  h.observe(0.001);    // exactly a bound: that bucket
  h.observe(0.3);      // le 0.5
  h.observe(99);       // above every bound
  const auto s = h.snapshot();
  EXPECT_EQ(s.count(), 4u);
  EXPECT_NEAR(s.sum, 99.30105, 1e-6);
  metrics::Writer w;
  metrics::write_histogram(w, "d_seconds", "Durations.", s);
  const std::string& t = w.text();
  EXPECT_NE(t.find("# TYPE d_seconds histogram\n"), std::string::npos);
  EXPECT_NE(t.find("d_seconds_bucket{le=\"0.0001\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{le=\"0.001\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{le=\"0.5\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{le=\"10\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_count 4\n"), std::string::npos) << t;
}

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/file.hpp"

namespace {
std::string text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
cascade::ByteSpan bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

// A read past a file's end (cut short by another program) says where it ends, not "I/O error".
TEST(File, AReadPastTheEndSaysWhereTheFileEnds) {
  cascade::test::TempDir d;
  d.write("short", "0123456789");
  const cascade::File f(d.file("short"), cascade::File::Mode::read);
  std::array<std::uint8_t, 4> got{};
  f.read_at(6, got);
  EXPECT_EQ(std::string(got.begin(), got.end()), "6789");
  try {
    f.read_at(8, got);
    ADD_FAILURE() << "a read past the end succeeded";
  } catch (const cascade::FileError& e) {
    EXPECT_EQ(std::string(e.what()),
              d.file("short") +
                  ": the file ends at byte 10, short of the 12 bytes needed; was it shortened "
                  "by another program?");
    EXPECT_EQ(e.error, EIO);
  }
}

TEST(WriteFileReplace, ReplacesARegularFileWholeAndLeavesNoTemporaryFile) {
  cascade::test::TempDir d;
  d.write("out", "old and longer");
  cascade::write_file_replace(d.file("out"), bytes_of("new"));
  EXPECT_EQ(text_of(d.file("out")), "new");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(d.path()), {}), 1);
}

// What is not a regular file is written into, not replaced: a rename over a FIFO (or, as root,
// over /dev/null) would leave a regular file in its place.
TEST(WriteFileReplace, WritesIntoAFifoAndLeavesItAFifo) {
  cascade::test::TempDir d;
  const std::string fifo = d.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The reading end, open first (not blocking), so the writer's open does not wait.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  cascade::write_file_replace(fifo, bytes_of("4242\n"));
  char got[16] = {};
  const ssize_t n = ::read(reader, got, sizeof got);
  ::close(reader);
  EXPECT_EQ(std::string(got, static_cast<std::size_t>(std::max<ssize_t>(n, 0))), "4242\n");
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(d.path()), {}), 1);
}

TEST(WriteFileReplace, AFifoNobodyReadsIsAnErrorNotAWait) {
  cascade::test::TempDir d;
  ASSERT_EQ(::mkfifo(d.file("fifo").c_str(), 0600), 0);
  try {
    cascade::write_file_replace(d.file("fifo"), bytes_of("x"));
    ADD_FAILURE() << "no error";
  } catch (const cascade::FileError& e) {
    EXPECT_EQ(e.error, ENXIO) << e.what();
  }
}

TEST(WriteFileReplace, FollowsAChainOfRelativeLinksToTheFileItEndsAt) {
  cascade::test::TempDir d;
  std::filesystem::create_directory(d.file("a"));
  std::filesystem::create_directory(d.file("b"));
  std::filesystem::create_symlink("../b/second", d.file("a/first"));    // relative to a/
  std::filesystem::create_symlink("missing.json", d.file("b/second"));  // to nothing yet
  cascade::write_file_replace(d.file("a/first"), bytes_of("ok"));
  EXPECT_TRUE(std::filesystem::is_symlink(d.file("a/first")));
  EXPECT_TRUE(std::filesystem::is_symlink(d.file("b/second")));
  EXPECT_EQ(text_of(d.file("b/missing.json")), "ok");
  std::filesystem::create_symlink("loop", d.file("loop"));
  EXPECT_THROW(cascade::write_file_replace(d.file("loop"), bytes_of("x")), cascade::FileError);
}

TEST(WriteFileReplace, ReplacesWhatASymbolicLinkNamesAndKeepsTheLink) {
  cascade::test::TempDir d;
  std::filesystem::create_directory(d.file("real"));
  d.write("real/stats.json", "{}");
  std::filesystem::create_symlink(d.file("real/stats.json"), d.file("link"));
  cascade::write_file_replace(d.file("link"), bytes_of("[1]"));
  EXPECT_TRUE(std::filesystem::is_symlink(d.file("link")));
  EXPECT_EQ(text_of(d.file("real/stats.json")), "[1]");
  // A link to nothing yet: the file it names is created.
  std::filesystem::create_symlink(d.file("real/later.json"), d.file("dangling"));
  cascade::write_file_replace(d.file("dangling"), bytes_of("x"));
  EXPECT_TRUE(std::filesystem::is_symlink(d.file("dangling")));
  EXPECT_EQ(text_of(d.file("real/later.json")), "x");
}

TEST(WriteFileReplace, ADirectoryIsAnErrorNamingIt) {
  cascade::test::TempDir d;
  std::filesystem::create_directory(d.file("dir"));
  try {
    cascade::write_file_replace(d.file("dir"), bytes_of("x"));
    ADD_FAILURE() << "no error";
  } catch (const cascade::FileError& e) {
    EXPECT_EQ(std::string(e.what()), d.file("dir") + ": is a directory");
  }
  EXPECT_TRUE(std::filesystem::is_directory(d.file("dir")));
}

TEST(WriteFileReplace, ANameAtTheLengthLimitCanBeReplaced) {
  cascade::test::TempDir d;
  const std::string name(255, 'n');  // NAME_MAX: no room for a suffix
  cascade::write_file_replace(d.file(name), bytes_of("a"));
  cascade::write_file_replace(d.file(name), bytes_of("b"));
  EXPECT_EQ(text_of(d.file(name)), "b");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(d.path()), {}), 1);
}
