// Faults with real processes: crashes, signals, a missing or restarted tracker, a dying seed,
// a full disk. Nothing lost, nothing wrong.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/peer/lab.hpp"

using namespace cascade;
using namespace cascade::test;
using namespace std::chrono_literals;

namespace {
// "N of M blocks present (K from the journal" from a peer's log.
std::pair<int, int> present_and_journal(const std::string& err) {
  const auto at = err.find(" blocks present (");
  if (at == std::string::npos) return {-1, -1};
  const auto of = err.rfind(" of ", at);
  const int present = std::stoi(err.substr(err.rfind(' ', of - 1) + 1));
  const int journal = std::stoi(err.substr(at + std::string(" blocks present (").size()));
  return {present, journal};
}

std::uint16_t free_port() {
  Lab scratch;  // a tracker on port 0 tells us a free port; it is stopped with `scratch`
  return scratch.tracker_port;
}
}  // namespace

TEST(Faults, KillNineAtTwentyMomentsNeverLosesDurableBlocksAndEndsCorrect) {
  Lab lab;
  const std::string cascade = lab.make_file("data.bin", 200 * 16 * 1024, "16KiB");
  ASSERT_TRUE(lab.slow_seed("seed", cascade, 4));
  std::mt19937 rng(1234);
  int last_present = 0;
  for (int round = 0; round < 20; ++round) {
    Process& p = lab.peer("leech", cascade, lab.dir.file("copy.bin"), {"-c"});
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 250));
    p.signal(SIGKILL);
    p.wait(5s);
    auto [present, journal] = present_and_journal(p.err());
    if (present < 0) continue;  // killed before it finished starting
    EXPECT_GE(present, last_present)
        << "round " << round << ": blocks that were on disk went missing";
    last_present = present;
  }
  Process& last = lab.peer("leech", cascade, lab.dir.file("copy.bin"), {"-c"});
  ASSERT_EQ(last.wait(60s), 0) << last.err();
  EXPECT_GE(present_and_journal(last.err()).first, last_present);
  EXPECT_TRUE(lab.same_file(lab.dir.file("data.bin"), lab.dir.file("copy.bin")));
}

TEST(Faults, SigintFlushesTheJournalAndExitsZero) {
  Lab lab;
  const std::string cascade = lab.make_file("data.bin", 100 * 16 * 1024, "16KiB");
  ASSERT_TRUE(lab.slow_seed("seed", cascade, 20));
  Process& p = lab.peer("leech", cascade, lab.dir.file("copy.bin"), {"-c"});
  // Interrupted once it has verified some blocks (its statistics say so), whenever that is.
  ASSERT_TRUE(eventually([&] { return lab.verified("leech") > 0; }, 20s)) << p.err();
  p.signal(SIGINT);
  ASSERT_EQ(p.wait(5s), 0) << p.err();
  const int had = lab.verified("leech");
  ASSERT_GT(had, 0);
  Process& again = lab.peer("leech2", cascade, lab.dir.file("copy.bin"), {"-c"});
  ASSERT_EQ(again.wait(60s), 0) << again.err();
  auto [present, journal] = present_and_journal(again.err());
  EXPECT_GE(journal, had) << "every block verified before SIGINT is in the journal: "
                          << again.err();
}

TEST(Faults, TrackerDownAtStartUpThenUp) {
  Lab lab;
  const std::string cascade = lab.make_file("data.bin", 300000, "16KiB");
  const std::uint16_t port = free_port();
  lab.peer("seed", cascade, lab.dir.file("data.bin"), {"--announce-interval", "1"}, port);
  Process& l = lab.peer("leech", cascade, lab.dir.file("copy.bin"), {"-c"}, port);
  // Up once the leecher has found the tracker down (however long its start-up took).
  ASSERT_TRUE(eventually_says(l, "failed", 20s)) << l.err();
  EXPECT_TRUE(l.running());
  lab.dir.write("late.json", R"({"port": )" + std::to_string(port) + "}");
  Process tracker(bin_dir() + "/cascade-tracker",
                  {"--config", lab.dir.file("late.json"), "--bind", "127.0.0.1"}, lab.dir.path());
  ASSERT_EQ(l.wait(60s), 0) << l.err();
  EXPECT_TRUE(lab.same_file(lab.dir.file("data.bin"), lab.dir.file("copy.bin")));
  EXPECT_NE(l.err().find("failed"), std::string::npos) << "one line when the tracker fails";
  EXPECT_NE(l.err().find("answered"), std::string::npos) << "one line when it answers again";
}

TEST(Faults, TrackerRestartsEmptyAndPeersReannounce) {
  Lab lab;
  const std::uint16_t port = free_port();
  lab.dir.write("t.json", R"({"port": )" + std::to_string(port) + "}");
  auto tracker = std::make_unique<Process>(
      bin_dir() + "/cascade-tracker",
      std::vector<std::string>{"--config", lab.dir.file("t.json"), "--bind", "127.0.0.1"},
      lab.dir.path());
  const std::string cascade = lab.make_file("data.bin", 300000, "16KiB");
  std::this_thread::sleep_for(300ms);
  lab.peer("seed", cascade, lab.dir.file("data.bin"), {"--announce-interval", "1"}, port);
  ASSERT_NE(lab.port_of("seed"), 0);
  tracker->signal(SIGKILL);
  tracker->wait(5s);
  tracker = std::make_unique<Process>(
      bin_dir() + "/cascade-tracker",
      std::vector<std::string>{"--config", lab.dir.file("t.json"), "--bind", "127.0.0.1"},
      lab.dir.path());
  Process& l = lab.peer("leech", cascade, lab.dir.file("copy.bin"), {"-c"}, port);
  ASSERT_EQ(l.wait(60s), 0) << l.err();
  EXPECT_TRUE(lab.same_file(lab.dir.file("data.bin"), lab.dir.file("copy.bin")));
}

TEST(Faults, ASeedDiesMidTransferAndAnotherAppears) {
  Lab lab;
  const std::string cascade = lab.make_file("data.bin", 100 * 16 * 1024, "16KiB");
  Process& first = lab.fake("seed1", cascade, lab.dir.file("data.bin"), "honest", 20);
  ASSERT_TRUE(lab.wait_listed(cascade, {lab.port_of("seed1")}));
  Process& l = lab.peer("leech", cascade, lab.dir.file("copy.bin"), {"-c"});
  // Killed mid-transfer: once the leecher has some blocks from it (100 take it 2 s).
  ASSERT_TRUE(eventually([&] { return lab.verified("leech") > 0; }, 20s)) << l.err();
  first.signal(SIGKILL);
  first.wait(5s);
  EXPECT_TRUE(l.running());
  lab.peer("seed2", cascade, lab.dir.file("data.bin"));
  ASSERT_EQ(l.wait(60s), 0) << l.err();
  EXPECT_TRUE(lab.same_file(lab.dir.file("data.bin"), lab.dir.file("copy.bin")));
}

// A real full disk, not a simulated one: an ext4 of 8 MiB on a loop device, mounted in a mount
// namespace of the test's own, for a 16 MiB file. The write that finds no room ends the run with
// exit 1 and one line naming the file and the reason. (With so little room the download reserves
// nothing up front: Storage::reserve leaves the disk's last free blocks alone.)
TEST(Faults, ARealFullDiskIsAOneLineErrorWithExitOne) {
  if (::geteuid() != 0 || !std::filesystem::exists("/dev/loop-control"))
    GTEST_SKIP() << "needs root and loop devices";
  Lab lab;
  const std::string cascade = lab.make_file("data.bin", 16 << 20, "1MiB");
  lab.peer("seed", cascade, lab.dir.file("data.bin"));
  ASSERT_NE(lab.port_of("seed"), 0);
  const std::string image = lab.dir.file("disk.img"), mnt = lab.dir.file("mnt");
  std::filesystem::create_directory(mnt);
  // "mounted" says the namespace and the mount could be made here (not in every container); the
  // peer is bounded in time, so nothing outlives the test holding the mount.
  const std::string script =
      "PATH=/usr/sbin:/sbin:$PATH; truncate -s 8M \"$1\" && mkfs.ext4 -q -F \"$1\" && "
      "unshare -m --propagation private sh -c 'mount -o loop \"$1\" \"$2\" || exit 77; "
      "echo mounted >&2; timeout -s KILL 40 \"$3\" run \"$4\" \"$5\" 127.0.0.1:0 -c -o "
      "\"$2/copy.bin\"' sh \"$@\"";
  const RunResult r =
      run("/bin/sh", {"-c", script, "sh", image, mnt, peer_bin(), cascade, lab.tracker()});
  if (r.err.find("mounted") == std::string::npos)
    GTEST_SKIP() << "cannot mount a loop device here: " << r.err;
  EXPECT_EQ(r.code, 1) << r.err;
  const std::string reason = "No space left on device";
  const auto at = r.err.find(reason);
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string line =
      r.err.substr(r.err.rfind('\n', at) + 1, r.err.find('\n', at) - r.err.rfind('\n', at) - 1);
  EXPECT_NE(line.find(mnt + "/copy.bin"), std::string::npos) << line;
  EXPECT_EQ(r.err.find(reason, at + 1), std::string::npos) << "said once: " << r.err;
}

TEST(Faults, AFullDiskIsAClearErrorWithExitOneAndNoCorruptState) {
  Lab lab;
  const std::string cascade = lab.make_file("data.bin", 64 * 16 * 1024, "16KiB");
  lab.peer("seed", cascade, lab.dir.file("data.bin"));
  ASSERT_NE(lab.port_of("seed"), 0);
  ::setenv("CASCADE_FAIL_WRITES_AFTER", "10", 1);
  Process& full = lab.peer("leech", cascade, lab.dir.file("copy.bin"), {"-c"});
  ::unsetenv("CASCADE_FAIL_WRITES_AFTER");
  ASSERT_EQ(full.wait(30s), 1) << full.err();
  EXPECT_NE(full.err().find("No space left on device"), std::string::npos) << full.err();
  // What it kept is sound: a restart finishes the file correctly.
  Process& again = lab.peer("leech2", cascade, lab.dir.file("copy.bin"), {"-c"});
  ASSERT_EQ(again.wait(60s), 0) << again.err();
  EXPECT_TRUE(lab.same_file(lab.dir.file("data.bin"), lab.dir.file("copy.bin")));
}
