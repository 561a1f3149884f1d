// The real cascade-tracker binary, driven over real sockets on 127.0.0.1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "common/endpoint.hpp"
#include "common/hex.hpp"
#include "common/system.hpp"
#include "tests/support/client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tracker.hpp"
#include "tests/support/vectors.hpp"
#include "tracker/config.hpp"

using namespace cascade;
using namespace cascade::test;
using namespace std::chrono_literals;

namespace {

const std::string sample_hex = "fce6a7d8c44c99efcc13087f963695e53e405796cc3728aef70749ff60b4944f";
const std::string other_hex = "588b1aed4a9e66d06332f34c85df85fce07c0569c16025e8094acbc7f53d2ce8";

class Tracker {
 public:
  explicit Tracker(const std::string& config_json, std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--threads", "2"});
    t_ = start_tracker(dir_, "tracker", config_json, extra);
  }
  std::uint16_t port() const { return t_.port; }
  Process& process() { return *t_.process; }

 private:
  TempDir dir_;
  StartedTracker t_;
};

TrackerRequest request(TrackerCommand cmd, const std::string& hash_hex, const std::string& ip,
                       std::uint16_t port) {
  return TrackerRequest{cmd, *hash_from_hex(hash_hex), *parse_ipv4(ip), port};
}

std::string closed_config(const std::string& extra = "") {
  return R"({"port": 0, "allowedhashes": [")" + sample_hex + R"("])" + extra + "}";
}

// A request with its header changed at `offset`, for the malformed-header cases.
Bytes with_byte(Bytes b, std::size_t offset, std::uint8_t value) {
  b[offset] = value;
  return b;
}

}  // namespace

TEST(TrackerProcess, AnswersTheVectorRequestsAndRecordsSubscribers) {
  Tracker t(closed_config());
  // SUBSCRIBE from the vector: nobody else is there yet, so the list is empty.
  EXPECT_EQ(to_hex(tracker_exchange(t.port(), vector_hex("tracker_subscribe_request"))),
            "0000000000");
  // A LIST for another port now sees the vector's peer 127.0.0.1:7001.
  auto r = tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 7002));
  ASSERT_EQ(r.status, 0);
  ASSERT_EQ(r.peers.size(), 1u);
  EXPECT_EQ(to_string(Endpoint{r.peers[0].ip, r.peers[0].port}), "127.0.0.1:7001");
  EXPECT_FALSE(r.peers[0].good);
  EXPECT_NEAR(static_cast<double>(r.peers[0].last_seen), static_cast<double>(std::time(nullptr)),
              5.0);
  // The vector LIST request is the subscriber itself: never listed to itself.
  EXPECT_EQ(to_hex(tracker_exchange(t.port(), vector_hex("tracker_list_request"))), "0000000000");
}

TEST(TrackerProcess, UnknownHashGetsTheVectorErrorResponseByteForByte) {
  Tracker t(R"({"port": 0, "allowedhashes": [")" + other_hex + R"("]})");
  EXPECT_EQ(tracker_exchange(t.port(), vector_hex("tracker_list_request")),
            vector_hex("tracker_error_response"));
}

TEST(TrackerProcess, TwentyFiveSubscribersListTwentyGoodFirstNeverTheAsker) {
  Tracker t(closed_config(R"(, "good-ips": ["127.0.0.1"])"));
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(tracker_call(t.port(),
                           request(TrackerCommand::subscribe, sample_hex, "127.0.0.1", 9000 + i))
                  .status,
              0);
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex,
                                             "8.8.4." + std::to_string(i), 9100))
                  .status,
              0);
  for (int round = 0; round < 5; ++round) {
    auto r = tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 9000));
    ASSERT_EQ(r.status, 0);
    ASSERT_EQ(r.peers.size(), 20u);
    for (std::size_t i = 0; i < r.peers.size(); ++i) {
      EXPECT_EQ(r.peers[i].good, i < 4) << i;  // the other four good peers, then ordinary ones
      EXPECT_FALSE(r.peers[i].ip == 0x7f000001 && r.peers[i].port == 9000) << "listed the asker";
    }
  }
}

TEST(TrackerProcess, EachMalformedHeaderGetsAnErrorAndTheTrackerKeepsServing) {
  Tracker t(closed_config());
  const Bytes good = vector_hex("tracker_list_request");
  const std::vector<std::pair<Bytes, std::string>> cases = {
      {with_byte(good, 0, 'X'), "magic"},  {with_byte(good, 7, 2), "version"},
      {with_byte(good, 11, 9), "command"}, {with_byte(good, 15, 37), "38"},
      {with_byte(good, 12, 0xff), "38"},
  };
  for (const auto& [bytes, word] : cases) {
    const Bytes resp = tracker_exchange(t.port(), bytes);
    auto d = decode_tracker_response(resp, 20);
    ASSERT_TRUE(d.ok()) << word;
    EXPECT_EQ(d.value->status, 1) << word;
    EXPECT_NE(d.value->message.find(word), std::string::npos) << d.value->message;
  }
  // Garbage, then a half request that is abandoned: the next good request is still answered.
  {
    Conn c(t.port());
    c.send(std::string(100, '\x00'));
    EXPECT_EQ(c.read_to_end()[0], 1);
  }
  {
    Conn c(t.port());
    c.send(ByteSpan(good).first(20));
  }
  EXPECT_EQ(
      tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1)).status, 0);
}

TEST(TrackerProcess, ARequestCutShortByTheEndOfTheStreamGetsAnError) {
  // A client that half-closes part-way through its request still reads: it is told what was
  // wrong. One that sends nothing gets nothing. The tracker keeps serving.
  Tracker t(closed_config());
  const Bytes good = vector_hex("tracker_list_request");
  for (const std::size_t cut : {1u, 15u, 16u, 30u, 53u}) {
    Conn c(t.port());
    c.send(ByteSpan(good).first(cut));
    c.shutdown_send();
    auto d = decode_tracker_response(c.read_to_end(), 20);
    ASSERT_TRUE(d.ok()) << cut;
    EXPECT_EQ(d.value->status, 1) << cut;
    EXPECT_NE(d.value->message.find("ended after " + std::to_string(cut) + " of the 54 bytes"),
              std::string::npos)
        << d.value->message;
  }
  Conn silent(t.port());
  silent.shutdown_send();
  EXPECT_TRUE(silent.read_to_end().empty());
  EXPECT_EQ(
      tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1)).status, 0);
}

TEST(TrackerProcess, AssemblesARequestSentOneByteAtATime) {
  Tracker t(closed_config());
  Conn c(t.port());
  const Bytes req = vector_hex("tracker_subscribe_request");
  for (std::uint8_t b : req) {
    c.send(ByteSpan(&b, 1));
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(to_hex(c.read_to_end()), "0000000000");
  EXPECT_EQ(tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1))
                .peers.size(),
            1u);
}

TEST(TrackerProcess, PeersExpireAfterTheConfiguredTtl) {
  // A peer is listed while its whole-second last-seen time plus the TTL is ahead of the clock: with
  // 2 s it is listed for at least a second after subscribing, and gone 2 s after.
  Tracker t(closed_config(R"(, "peer-ttl-seconds": 2)"));
  tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex, "127.0.0.1", 5000));
  EXPECT_EQ(tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1))
                .peers.size(),
            1u);
  std::this_thread::sleep_for(2100ms);
  EXPECT_EQ(tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1))
                .peers.size(),
            0u);
}

TEST(TrackerProcess, RefusesASubscribeThatSpoofsAGoodAddress) {
  Tracker t(closed_config(R"(, "good-ips": ["1.2.3.4", "127.0.0.1"])"));
  auto r = tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex, "1.2.3.4", 5000));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.message.find("1.2.3.4"), std::string::npos);
  EXPECT_EQ(tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1))
                .peers.size(),
            0u);
  // From the good address itself it is accepted and flagged good.
  ASSERT_EQ(
      tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex, "127.0.0.1", 5000))
          .status,
      0);
  auto l = tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1));
  ASSERT_EQ(l.peers.size(), 1u);
  EXPECT_TRUE(l.peers[0].good);
}

TEST(TrackerProcess, BanPrivateRefusesRfc1918Addresses) {
  Tracker t(closed_config(R"(, "ban-private": true)"));
  for (const char* ip : {"10.0.0.1", "172.16.5.5", "192.168.1.20"})
    EXPECT_EQ(
        tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex, ip, 5000)).status, 1)
        << ip;
  EXPECT_EQ(tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex, "8.8.8.8", 5000))
                .status,
            0);
  Tracker lenient(closed_config());
  EXPECT_EQ(
      tracker_call(lenient.port(), request(TrackerCommand::subscribe, sample_hex, "10.0.0.1", 5000))
          .status,
      0);
}

TEST(TrackerProcess, OpenModeTracksAnyHashClosedModeOnlyTheAllowedOnes) {
  Tracker closed(closed_config());
  EXPECT_EQ(
      tracker_call(closed.port(), request(TrackerCommand::subscribe, other_hex, "127.0.0.1", 5000))
          .status,
      1);
  EXPECT_EQ(
      tracker_call(closed.port(), request(TrackerCommand::subscribe, sample_hex, "127.0.0.1", 5000))
          .status,
      0);
  Tracker open(R"({"port": 0, "open": true})");
  EXPECT_EQ(
      tracker_call(open.port(), request(TrackerCommand::subscribe, other_hex, "127.0.0.1", 5000))
          .status,
      0);
  EXPECT_EQ(tracker_call(open.port(), request(TrackerCommand::list, other_hex, "127.0.0.1", 1))
                .peers.size(),
            1u);
}

TEST(TrackerProcess, RequireSourceIpRefusesThirdPartyAddresses) {
  Tracker t(closed_config(R"(, "require-source-ip": true)"));
  auto r = tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex, "8.8.8.8", 5000));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.message.find("127.0.0.1"), std::string::npos) << r.message;
  EXPECT_EQ(
      tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex, "127.0.0.1", 5000))
          .status,
      0);
}

TEST(TrackerProcess, SubscribeWithPortZeroIsRefused) {
  Tracker t(closed_config());
  EXPECT_EQ(
      tracker_call(t.port(), request(TrackerCommand::subscribe, sample_hex, "127.0.0.1", 0)).status,
      1);
}

TEST(TrackerProcess, HoldsTwoHundredIdleConnectionsWhileAnsweringWithin100ms) {
  Tracker t(closed_config());
  std::vector<Conn> idle;
  for (int i = 0; i < 200; ++i) idle.emplace_back(t.port());
  std::vector<std::chrono::steady_clock::duration> took;
  for (int i = 0; i < 20; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto r = tracker_call(t.port(),
                          request(TrackerCommand::subscribe, sample_hex, "127.0.0.1", 6000 + i));
    took.push_back(std::chrono::steady_clock::now() - start);
    EXPECT_EQ(r.status, 0);
    // A tracker that served connections in turn would not answer before the idle ones timed out.
    EXPECT_LT(took.back(), 1s) << "request " << i;
  }
  // The typical answer, not the slowest: beside the other tests on a loaded 2-core machine one
  // answer can wait a scheduling slice or two.
  std::nth_element(took.begin(), took.begin() + 10, took.end());
  EXPECT_LT(took[10], 100ms);
}

TEST(TrackerProcess, ClosesConnectionsThatStayIdlePastTheRequestTimeout) {
  Tracker t(closed_config(R"(, "request-timeout-ms": 300)"));
  Conn c(t.port(), 3s);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(TrackerProcess, ARequestThatStallsPartWayIsToldWhyAtTheTimeout) {
  // A client a few bytes short (an encoder that forgot the port) waits for an answer: at the
  // request timeout it gets an error saying how much arrived, then the close.
  Tracker t(closed_config(R"(, "request-timeout-ms": 300)"));
  const Bytes good = vector_hex("tracker_list_request");
  for (const std::size_t cut : {10u, 52u}) {
    Conn c(t.port(), 3s);
    c.send(ByteSpan(good).first(cut));
    const auto start = std::chrono::steady_clock::now();
    auto d = decode_tracker_response(c.read_to_end(), 20);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    ASSERT_TRUE(d.ok()) << cut;
    EXPECT_EQ(d.value->status, 1);
    EXPECT_NE(d.value->message.find("only " + std::to_string(cut) +
                                    " of its 54 bytes arrived within 300 ms"),
              std::string::npos)
        << d.value->message;
  }
  EXPECT_EQ(
      tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1)).status, 0);
}

// With `open` idle connections held, one more is closed at once; once they go, requests work.
void expect_refuses_beyond(Tracker& t, int open) {
  std::vector<Conn> idle;
  for (int i = 0; i < open; ++i) idle.emplace_back(t.port());
  std::this_thread::sleep_for(100ms);
  Conn extra(t.port());
  EXPECT_TRUE(extra.closed_by_peer());
  idle.clear();
  // Once the tracker has seen the closes, their slots are free again (a slot never freed fails).
  EXPECT_TRUE(eventually(
      [&] {
        try {
          return tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1))
                     .status == 0;
        } catch (const std::exception&) {
          return false;  // refused: the slots are not free yet
        }
      },
      5s));
}

TEST(TrackerProcess, RefusesConnectionsAboveTheCap) {
  Tracker t(closed_config(R"(, "max-connections": 5)"));
  expect_refuses_beyond(t, 5);
}

TEST(TrackerProcess, SigtermExitsCleanly) {
  Tracker t(closed_config());
  tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1));
  t.process().signal(SIGTERM);
  EXPECT_EQ(t.process().wait(5s), 0);
  EXPECT_NE(t.process().err().find("stopping"), std::string::npos);
}

TEST(TrackerProcess, SigtermLetsAnInFlightRequestFinish) {
  Tracker t(closed_config(), {"--log-level", "debug"});
  Conn c(t.port());
  const Bytes req = vector_hex("tracker_subscribe_request");
  c.send(ByteSpan(req).first(10));
  // Signalled once the tracker has taken the connection on (its debug line comes after).
  ASSERT_TRUE(eventually_says(t.process(), "accepted a connection")) << t.process().err();
  t.process().signal(SIGTERM);
  std::this_thread::sleep_for(100ms);
  c.send(ByteSpan(req).subspan(10));
  EXPECT_EQ(to_hex(c.read_to_end()), "0000000000");
  EXPECT_EQ(t.process().wait(5s), 0);
}

TEST(TrackerProcess, StartsWithAStartLineAndLogsStats) {
  Tracker t(closed_config(), {"--stats-interval", "1"});
  tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1));
  // The first stats line is due a second after start-up; a loaded machine may take longer.
  EXPECT_TRUE(eventually_says(t.process(), "stats: swarms="));
  const std::string err = t.process().err();
  EXPECT_NE(err.find("listening on 127.0.0.1 port"), std::string::npos) << err;
  EXPECT_NE(err.find("mode closed"), std::string::npos) << err;
  EXPECT_NE(err.find("stats: swarms="), std::string::npos) << err;
}

// Without --threads, one network thread per core it may use: started from a thread whose CPU
// mask holds one CPU (the child inherits the mask), it runs one thread, and says so.
TEST(TrackerProcess, RunsOneThreadPerCoreItMayUse) {
  for (const bool pinned : {true, false}) {
    TempDir d;
    d.write("tracker.json", closed_config());
    const std::vector<std::string> args = {
        "--config",  d.file("tracker.json"), "--port",      "0", "--bind",
        "127.0.0.1", "--port-file",          d.file("port")};
    std::unique_ptr<Process> p;
    unsigned expected = 0;
    std::thread([&] {
      if (pinned) {
        ASSERT_TRUE(pin_this_thread_to_one_cpu());
      }
      expected = usable_cores();
      p = std::make_unique<Process>(bin_dir() + "/cascade-tracker", args, d.path());
    }).join();
    ASSERT_TRUE(p);
    ASSERT_NE(wait_for_port_file(d.file("port")), 0) << p->err();
    if (pinned) {
      EXPECT_EQ(expected, 1u);
    }
    const std::string said =
        ", " + std::to_string(expected) + (expected == 1 ? " thread," : " threads,");
    EXPECT_NE(p->err().find(said), std::string::npos)
        << "expected \"" << said << "\" in: " << p->err();
  }
}

// A CPU quota on its cgroup (a container's --cpus 0.5) counts too. This needs a cgroup it may
// create: root and a cgroup v1 "cpu" hierarchy, or cgroup v2 with the cpu controller; else skipped.
TEST(TrackerProcess, RunsOneThreadUnderAHalfCoreQuota) {
  namespace fs = std::filesystem;
  const std::string name = "cascade-test-" + std::to_string(getpid());
  struct Kind {
    std::string dir, quota_file, quota, join_file;
  };
  std::optional<Kind> made;
  for (const Kind& k :
       {Kind{"/sys/fs/cgroup/cpu/" + name, "cpu.cfs_quota_us", "50000", "tasks"},
        Kind{"/sys/fs/cgroup/" + name, "cpu.max", "50000 100000", "cgroup.procs"}}) {
    std::error_code ec;
    if (!fs::create_directory(k.dir, ec)) continue;
    std::ofstream q(k.dir + "/" + k.quota_file);
    if (q << k.quota << std::flush) {
      made = k;
      break;
    }
    fs::remove(k.dir, ec);
  }
  if (!made)
    GTEST_SKIP() << "cannot make a cgroup with a CPU quota here (not root, or no cpu controller)";
  TempDir d;
  d.write("tracker.json", closed_config());
  {
    // The shell joins the cgroup, then becomes the tracker.
    Process p("/bin/sh",
              {"-c", "echo $$ > " + made->dir + "/" + made->join_file + " && exec " + bin_dir() +
                         "/cascade-tracker --config " + d.file("tracker.json") +
                         " --port 0 --bind 127.0.0.1 --port-file " + d.file("port")},
              d.path());
    EXPECT_NE(wait_for_port_file(d.file("port")), 0) << p.err();
    EXPECT_NE(p.err().find(", 1 thread,"), std::string::npos) << p.err();
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(5s), 0);
  }
  std::error_code ec;
  fs::remove(made->dir, ec);  // empty once the tracker has exited
  EXPECT_FALSE(ec) << ec.message();
}

TEST(TrackerCli, InvalidConfigsExitWithCodeTwoAndOneLine) {
  TempDir d;
  d.write("noport.json", "{}");
  d.write("badhex.json", R"({"port": 1, "allowedhashes": ["xyz"]})");
  d.write("notjson.json", "{port");
  ASSERT_EQ(::mkfifo(d.file("fifo").c_str(), 0600), 0);  // no writer: read as empty, not waited on
  d.write("huge.json", "{}");
  std::filesystem::resize_file(d.file("huge.json"),
                               max_config_bytes + 1);  // sparse: nothing is written
  for (const auto& [file, word] :
       std::vector<std::pair<std::string, std::string>>{{"noport.json", "port"},
                                                        {"badhex.json", "allowedhashes"},
                                                        {"notjson.json", "JSON"},
                                                        {"missing.json", "cannot open"},
                                                        {"/dev/zero", "too large"},
                                                        {".", "is a directory"},
                                                        {"huge.json", "too large"},
                                                        {"fifo", "is empty"}}) {
    auto r = run(bin_dir() + "/cascade-tracker",
                 {"--config", file.starts_with('/') ? file : d.file(file)}, 10s);
    EXPECT_EQ(r.code, 2) << file;
    EXPECT_NE(r.err.find(word), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(run(bin_dir() + "/cascade-tracker", {}).code, 2);
  // A config from a pipe is read to its end: the bad key is found in what the pipe said.
  auto piped = run("/bin/bash",
                   {"-c", "exec " + bin_dir() +
                              "/cascade-tracker --config <(printf '%s' '{\"port\": "
                              "1, \"allowedhashes\": [\"xyz\"]}')"},
                   10s);
  EXPECT_EQ(piped.code, 2) << piped.err;
  EXPECT_NE(piped.err.find("allowedhashes"), std::string::npos) << piped.err;
}

// A port file naming the program's own output is written to, not renamed over: the log that
// output goes to keeps everything written after the port.
TEST(TrackerCli, APortFileOnTheProgramsOwnOutputAddsToItAndLosesNothing) {
  TempDir d;
  d.write("t.json", R"({"port": 0, "open": true})");
  Process p(bin_dir() + "/cascade-tracker",
            {"--config", d.file("t.json"), "--bind", "127.0.0.1", "--port-file", "/dev/stderr"},
            d.path());
  ASSERT_TRUE(eventually_says(p, "listening on")) << p.err();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(5s), 0);
  const std::string err = p.err();
  const auto port_at = err.find("\n", err.find("listening on"));
  ASSERT_NE(port_at, std::string::npos) << err;
  EXPECT_NE(std::atoi(err.c_str() + port_at + 1), 0) << "the port follows the first line: " << err;
  EXPECT_NE(err.find("signal 15"), std::string::npos)
      << "what came after the port is lost: " << err;
}

TEST(TrackerProcess, LimitsConnectionsPerAddress) {
  Tracker t(closed_config(R"(, "max-connections-per-ip": 3)"));
  expect_refuses_beyond(t, 3);
}

TEST(TrackerProcess, ASecondSignalExitsAtOnce) {
  Tracker t(closed_config(R"(, "request-timeout-ms": 20000)"), {"--log-level", "debug"});
  Conn c(t.port(), 30s);
  c.send(ByteSpan(vector_hex("tracker_subscribe_request")).first(10));  // in flight: holds the stop
  ASSERT_TRUE(eventually_says(t.process(), "accepted a connection")) << t.process().err();
  t.process().signal(SIGTERM);
  EXPECT_FALSE(t.process().wait(500ms).has_value())
      << "the first signal waits for the request in flight";
  const auto start = std::chrono::steady_clock::now();
  t.process().signal(SIGTERM);
  EXPECT_EQ(t.process().wait(5s), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(TrackerProcess, FiveHundredConcurrentClientsAndAChurnOfAThousandAreAllAnswered) {
  Tracker t(closed_config(R"(, "max-connections-per-ip": 4096)"));
  std::vector<Conn> conns;
  for (int i = 0; i < 500; ++i) conns.emplace_back(t.port(), 20s);
  const Bytes req = vector_hex("tracker_list_request");
  for (auto& c : conns) c.send(req);
  for (auto& c : conns) EXPECT_EQ(c.read_to_end().size(), tracker_response_header_size);
  conns.clear();
  for (int i = 0; i < 1000; ++i) {
    Conn c(t.port());
    if (i % 2 == 0) c.send(req);
    if (i % 4 == 1) c.send(ByteSpan(req).first(7));
  }
  EXPECT_EQ(
      tracker_call(t.port(), request(TrackerCommand::list, sample_hex, "127.0.0.1", 1)).status, 0);
}

TEST(TrackerProcess, HittingTheDescriptorLimitRecoversOnceClientsLeave) {
  if (!std::filesystem::exists("/usr/bin/prlimit"))
    GTEST_SKIP() << "prlimit (util-linux) is not installed";
#ifdef CASCADE_SANITIZED
  // The sanitizer runtimes open pipes to probe memory; with no descriptors left they report
  // false errors. The Release build runs this test.
  GTEST_SKIP() << "not under the sanitizers";
#endif
  TempDir d;
  d.write("t.json", closed_config());
  Process p("/usr/bin/prlimit",
            {"--nofile=40:40", bin_dir() + "/cascade-tracker", "--config", d.file("t.json"),
             "--bind", "127.0.0.1", "--port", "0", "--port-file", d.file("port"), "--threads", "1"},
            d.path());
  const auto port = static_cast<std::uint16_t>(wait_for_port_file(d.file("port")));
  ASSERT_NE(port, 0) << p.err();
  {
    std::vector<Conn> flood;
    for (int i = 0; i < 80; ++i) flood.emplace_back(port);
    std::this_thread::sleep_for(300ms);
  }
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(tracker_call(port, request(TrackerCommand::list, sample_hex, "127.0.0.1", 1)).status,
            0);
  EXPECT_NE(p.err().find("backing off"), std::string::npos) << p.err();
}
