// Limits on real processes over 127.0.0.1: --max-download-rate and --max-upload-rate (one token
// bucket per process over every file and connection, so a download or an upload takes
// size / rate), and the serving defaults with a crowd behind one address.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "common/sha256.hpp"
#include "tests/peer/lab.hpp"
#include "tests/support/client.hpp"

using namespace cascade;
using namespace cascade::test;
using namespace std::chrono_literals;

namespace {
constexpr double rate = 20.0 * 1024 * 1024;  // 20 MiB/s

// A limited transfer of `expected` seconds' worth took `took`: never faster than the limit allows
// (less the bucket's burst), and not slower by more than start-up, the last block's hashing and a
// loaded machine's stalls (a limit applied twice would take 2 x).
void expect_paced(double took, double expected, const char* what) {
  EXPECT_GE(took, 0.9 * expected) << what;
  EXPECT_LT(took, 1.5 * expected) << what;
}

// The latest completion time over every file of the peers `names` (from their statistics).
double finished_after(const Lab& lab, const std::vector<std::string>& names) {
  double latest = 0;
  for (const auto& n : names) {
    const json stats = lab.stats(n);  // kept: a range over a temporary's member would dangle
    for (const auto& f : stats["files"])
      latest = std::max(latest, f["complete_seconds"].get<double>());
  }
  return latest;
}
}  // namespace

TEST(RateLimit, ADownloadOverEightConnectionsAndTwoFilesTakesSizeOverRate) {
  Lab lab;
  const std::string a = lab.make_file("a.bin", 32 << 20, "256KiB", 1);
  const std::string b = lab.make_file("b.bin", 32 << 20, "256KiB", 2);
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 4; ++i) {  // four seeds of both files: 4 connections per file
    const std::string name = "seed" + std::to_string(i);
    lab.peer(name, a + ":" + b, lab.dir.file("a.bin") + ":" + lab.dir.file("b.bin"),
             {"--no-spread"});
    ports.push_back(lab.port_of(name));
  }
  ASSERT_TRUE(lab.wait_listed(a, ports) && lab.wait_listed(b, ports));
  // Their start-up whole-file checks (256 MiB hashed in all) done, so the clock is the limit's.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(lab.wait_complete("seed" + std::to_string(i)));
  Process& leecher =
      lab.peer("leecher", a + ":" + b, lab.dir.file("a.out") + ":" + lab.dir.file("b.out"),
               {"-c", "--connections", "4", "--max-download-rate", "20MiB/s"});
  ASSERT_EQ(leecher.wait(60s), 0) << leecher.err();
  EXPECT_TRUE(lab.same_file(lab.dir.file("a.bin"), lab.dir.file("a.out")));
  EXPECT_TRUE(lab.same_file(lab.dir.file("b.bin"), lab.dir.file("b.out")));
  const double expected = (64 << 20) / rate;  // 3.2 s
  const double took = finished_after(lab, {"leecher"});
  std::printf("64 MiB downloaded at a 20 MiB/s limit in %.2f s (size / rate: %.2f s)\n", took,
              expected);
  expect_paced(took, expected, "64 MiB at 20 MiB/s");
}

TEST(RateLimit, AnUploadToFourLeechersOfTwoFilesTakesSizeOverRate) {
  Lab lab;
  const std::string a = lab.make_file("a.bin", 8 << 20, "256KiB", 3);
  const std::string b = lab.make_file("b.bin", 8 << 20, "256KiB", 4);
  Process& seed = lab.peer("seed", a + ":" + b, lab.dir.file("a.bin") + ":" + lab.dir.file("b.bin"),
                           {"--max-upload-rate", "20MiB/s"});
  ASSERT_TRUE(lab.wait_listed(a, {lab.port_of("seed")}));
  std::vector<std::string> leechers;
  for (int i = 0; i < 4; ++i) {  // client-only: every byte comes from the seed
    leechers.push_back("l" + std::to_string(i));
    lab.peer(leechers.back(), a + ":" + b,
             lab.dir.file(leechers.back() + ".a") + ":" + lab.dir.file(leechers.back() + ".b"),
             {"-c"});
  }
  for (std::size_t i = 0; i < leechers.size(); ++i) {
    ASSERT_EQ(lab.procs[2 + i]->wait(60s), 0) << lab.procs[2 + i]->err();
    EXPECT_TRUE(lab.same_file(lab.dir.file("a.bin"), lab.dir.file(leechers[i] + ".a")));
  }
  // The seed's upload, as the seed saw it: from the start of its first block send to the end of
  // its last, by its debug lines ("sent block B of DATA to IP in N ms", one per block: 4 leechers
  // x 2 files x 32 blocks of 256 KiB). Timed by the leechers instead, their start-ups count too
  // (slow in a sanitizer build, and spread on a loaded machine) and the figure swung both ways.
  std::vector<std::pair<double, double>> sends;  // start, end (seconds of the day)
  eventually(
      [&] {
        sends.clear();
        std::istringstream lines(seed.err());
        for (std::string line; std::getline(lines, line);) {
          const auto in = line.rfind(" in ");
          int h = 0, m = 0;
          double sec = 0;
          if (line.find(" debug: sent block ") == std::string::npos || in == std::string::npos ||
              std::sscanf(line.c_str(), "%d:%d:%lf", &h, &m, &sec) != 3)
            continue;
          double end = h * 3600 + m * 60 + sec;
          if (!sends.empty() && end < sends.front().second - 43200) end += 86400;  // past midnight
          sends.emplace_back(end - std::stod(line.substr(in + 4)) / 1000, end);
        }
        return sends.size() >= 256;
      },
      5s);
  // (A leecher's last blocks may be asked for twice: every copy sent counts.)
  ASSERT_GE(sends.size(), 256u) << seed.err();
  double first = sends[0].first, last = sends[0].second;
  for (const auto& [start, end] : sends) {
    first = std::min(first, start);
    last = std::max(last, end);
  }
  const double expected = sends.size() * (256 << 10) / rate;  // 64 MiB: 3.2 s
  const double took = last - first;
  std::printf("64 MiB uploaded at a 20 MiB/s limit in %.2f s (size / rate: %.2f s)\n", took,
              expected);
  expect_paced(took, expected, "the seed's 64 MiB at 20 MiB/s");
}

TEST(RateLimit, ABadRateIsAOneLineUsageError) {
  for (const char* bad : {"fast", "20 MB/s", "-1MB/s", "20b/s"}) {
    auto r = run(peer_bin(),
                 {"run", "x.cascade", "127.0.0.1:1", "127.0.0.1:0", "--max-upload-rate", bad});
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("--max-upload-rate: not a rate"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(Crowds, FiveHundredClientsFromOneAddressAreServedWithTheDefaults) {
  // Leechers behind one NAT address look like one host with many connections: with the default
  // limits (no per-address cap) every one of them is served, each block correct.
  Lab lab;
  const std::string cascade = lab.make_file("data.bin", 16 * 65536, "64KiB");
  lab.peer("seed", cascade, lab.dir.file("data.bin"), {"--no-spread"});
  const std::uint16_t port = lab.port_of("seed");
  ASSERT_NE(port, 0);
  const std::string data = read_text(lab.dir.file("data.bin"));
  const Hash256 hash = Lab::cascade_hash(cascade);
  std::vector<Conn> crowd;
  for (int i = 0; i < 500; ++i) crowd.emplace_back(port, 30s);
  for (int i = 0; i < 500; ++i) {  // two pipelined requests each
    Bytes both = encode_peer_request(PeerRequest{static_cast<std::uint64_t>(i % 16), hash});
    const Bytes second =
        encode_peer_request(PeerRequest{static_cast<std::uint64_t>((i + 7) % 16), hash});
    both.insert(both.end(), second.begin(), second.end());
    crowd[i].send(both);
  }
  for (int i = 0; i < 500; ++i) {
    for (int block : {i % 16, (i + 7) % 16}) {
      auto h = decode_peer_response_header(crowd[i].read_exact(peer_response_header_size), 65536);
      ASSERT_TRUE(h.ok()) << i;
      ASSERT_EQ(h.value->status, 0) << "client " << i << " was refused";
      const Bytes got = crowd[i].read_exact(65536);
      ASSERT_EQ(std::string(got.begin(), got.end()), data.substr(block * 65536, 65536)) << i;
    }
  }
}
