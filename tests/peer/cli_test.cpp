// The command lines: each default has one source (the option structs), the help prints it, and
// the README quotes the help verbatim. Errors are one line and the documented exit code.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/exit.hpp"
#include "proto/cascade_file.hpp"
#include "tests/support/process.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;
using namespace cascade::test;

namespace {
std::string readme() {
  std::ifstream in(std::string(CASCADE_SOURCE_DIR) + "/README.md");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
std::size_t lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}
}  // namespace

TEST(Cli, TheReadmeQuotesThePeersRunHelpVerbatim) {
  auto r = run(bin_dir() + "/cascade-peer", {"run", "--help"});
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--connections UINT:INT in [1 - 256]=16"), std::string::npos) << r.out;
  EXPECT_NE(readme().find(r.out), std::string::npos)
      << "README.md must quote `cascade-peer run --help` exactly; it prints:\n"
      << r.out;
}

TEST(Cli, TheReadmeQuotesTheTrackersHelpVerbatim) {
  auto r = run(bin_dir() + "/cascade-tracker", {"--help"});
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("peer-ttl-seconds: 1800"), std::string::npos) << r.out;
  EXPECT_NE(readme().find(r.out), std::string::npos)
      << "README.md must quote `cascade-tracker --help` exactly; it prints:\n"
      << r.out;
}

TEST(Cli, BadUsageIsOneLineAndExitCodeUsage) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "x.cascade", "127.0.0.1:1", "127.0.0.1:0", "--connections", "0"},
           {"run", "x.cascade", "nocolon", "127.0.0.1:0"},
           {"run", "x.cascade", "127.0.0.1:1", "not-an-address"},
           {"run", "x.cascade", "127.0.0.1:1", "127.0.0.1:0", "--window", "lots"},
           {"run", "x.cascade", "127.0.0.1:1", "127.0.0.1:0", "--threads", "100000"},
           {"make", "x", "--threads", "1025"},
           {"make", "/nonexistent/file"},
           {"info", "/nonexistent/file.cascade"},
           {"frobnicate"}}) {
    auto r = run(bin_dir() + "/cascade-peer", args);
    EXPECT_EQ(r.code, to_int(ExitCode::usage)) << args[0] << " " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("cascade-peer: ", 0), 0u) << r.err;
  }
  // With a cascade file that exists, so only the option can be what is refused.
  const std::string sample = vectors_dir() + "/sample.txt.cascade";
  for (const auto& [args, reason] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"run", sample, "127.0.0.1:1", "127.0.0.1:0", "--list-interval", "0"},
            "--list-interval"},
           {{"run", sample, "127.0.0.1:1", "127.0.0.1:0", "--max-download-rate", "0.4B/s"},
            "--max-download-rate"},
           {{"run", sample, "127.0.0.1:99999", "127.0.0.1:0"}, "port must be 1 to 65535"},
           {{"run", sample, "127.0.0.1:0", "127.0.0.1:0"}, "port must be 1 to 65535"},
           {{"run", sample, "127.0.0.1:1", "0.0.0.0:0"}, "not 0.0.0.0"},
           {{"run", sample, "127.0.0.1:1", "127.0.0.1:0", "--listen", "localhost"},
            "--listen must be an IPv4 address"},
           {{"run", sample, "127.0.0.1:1", "127.0.0.1:0", "--listen", "127.0.0.1:5"},
            "--listen must be an IPv4 address"},
           {{"run", sample + ":" + sample, "127.0.0.1:1", "127.0.0.1:0", "-o", "x:"},
            "-o has an empty data path"}}) {
    auto r = run(bin_dir() + "/cascade-peer", args, std::chrono::seconds(10));
    EXPECT_EQ(r.code, to_int(ExitCode::usage)) << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
  }
  TempDir d;
  d.write("t.json", R"({"port": 0, "open": true})");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--config", "/nonexistent.json"},
           {"--config", d.file("t.json"), "--threads", "100000"},
           {"--config", d.file("t.json"), "--stats-interval", "10000000000"}}) {
    auto t = run(bin_dir() + "/cascade-tracker", args);
    EXPECT_EQ(t.code, to_int(ExitCode::usage)) << t.err;
    EXPECT_EQ(lines(t.err), 1u) << t.err;
    EXPECT_EQ(t.err.rfind("cascade-tracker: ", 0), 0u) << t.err;
  }
}

// Within --threads' range, the system may still refuse threads (here: too little address space
// for their stacks). The threads started are joined and the program says why, instead of
// std::terminate (a std::thread destroyed while joinable) aborting it.
TEST(Cli, ThreadsTheSystemWillNotGiveAreOneLineAndExitOne) {
  if (!std::filesystem::exists("/usr/bin/prlimit"))
    GTEST_SKIP() << "prlimit (util-linux) is not installed";
#if defined(CASCADE_SANITIZED) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers' shadow memory needs more address space than the limit leaves";
#endif
  TempDir d;
  d.write("data.bin", std::string(100000, 'x'));
  d.write("t.json", R"({"port": 0, "open": true})");
  // 1000 stacks of 8 MiB (each thread's default stack is the stack limit) take 8 GiB.
  const std::string limit = "--as=" + std::to_string(1ull << 30);
  const std::string stack = "--stack=" + std::to_string(8ull << 20);
  for (const auto& [program, args] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"cascade-peer", {"make", d.file("data.bin"), "--threads", "1000"}},
           {"cascade-tracker",
            {"--config", d.file("t.json"), "--bind", "127.0.0.1", "--threads", "1000"}}}) {
    std::vector<std::string> all = {limit, stack, bin_dir() + "/" + program};
    all.insert(all.end(), args.begin(), args.end());
    auto r = run("/usr/bin/prlimit", all, std::chrono::seconds(20));
    EXPECT_EQ(r.code, to_int(ExitCode::failure)) << program << ": " << r.err;
    const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
    EXPECT_EQ(last.rfind(program + ": cannot start 1000 ", 0), 0u) << r.err;
  }
}

// --events on a FIFO with no reader: said at once, not a peer that waits in its open for good.
TEST(Cli, EventsToAFifoNobodyReadsAreAnErrorNotAWait) {
  TempDir d;
  ASSERT_EQ(::mkfifo(d.file("events").c_str(), 0600), 0);
  auto r = run(bin_dir() + "/cascade-peer",
               {"run", vectors_dir() + "/sample.txt.cascade", "127.0.0.1:1", "127.0.0.1:0", "-c",
                "-o", d.file("data"), "--events", d.file("events")},
               std::chrono::seconds(10));
  EXPECT_EQ(r.code, to_int(ExitCode::failure)) << r.err;
  EXPECT_NE(r.err.find("nothing is reading it"), std::string::npos) << r.err;
}

// --events - into a pipe whose reader has stopped reading (it is full): the events are dropped,
// said in a warning, and the run goes on to its end, rather than every thread that has an event
// to tell waiting for the reader for good.
TEST(Cli, EventsToAFullPipeOnTheStandardOutputAreDroppedNotAWait) {
  TempDir d;
  const std::string fifo = d.file("events");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  const int filler = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(filler, 0);
  ::fcntl(filler, F_SETPIPE_SZ, 4096);
  const std::string chunk(512, 'x');
  for (int i = 0; i < 100000 && ::write(filler, chunk.data(), chunk.size()) > 0; ++i) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ::close(filler);  // what it wrote stays in the pipe, unread
  std::filesystem::copy_file(vectors_dir() + "/sample.txt", d.file("data"));
  auto r = run("/bin/bash",
               {"-c", "exec " + bin_dir() + "/cascade-peer run " + vectors_dir() +
                          "/sample.txt.cascade 127.0.0.1:1 127.0.0.1:0 -c -o " + d.file("data") +
                          " --events - >" + fifo},
               std::chrono::seconds(20));
  ::close(reader);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("event(s) dropped so far"), std::string::npos) << r.err;
}

// The statistics are written five times a second: a file that cannot be written is said once.
TEST(Cli, AStatisticsFileThatCannotBeWrittenIsSaidOnce) {
  TempDir d;
  Process p(bin_dir() + "/cascade-peer",
            {"run", vectors_dir() + "/sample.txt.cascade", "127.0.0.1:1", "127.0.0.1:0", "-o",
             d.file("data"), "--stats-json", d.file("missing/stats.json")},
            d.path());
  ASSERT_TRUE(eventually_says(p, "cannot write statistics")) << p.err();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // several more tries at writing
  p.signal(SIGTERM);
  p.wait(std::chrono::seconds(10));
  const std::string err = p.err();
  std::size_t said = 0;
  for (auto at = err.find("cannot write statistics"); at != std::string::npos;
       at = err.find("cannot write statistics", at + 1))
    ++said;
  EXPECT_EQ(said, 1u) << err;
}

// What make and info print is their result: a standard output that takes nothing (a full disk)
// is exit 1 with its reason, not exit 0 with nothing written.
TEST(Cli, OutputThatCannotBeWrittenIsAFailure) {
  for (const std::string& args : {std::string("info ") + vectors_dir() + "/sample.txt.cascade",
                                  "info --json " + vectors_dir() + "/sample.txt.cascade"}) {
    auto r = run("/bin/bash", {"-c", "exec " + bin_dir() + "/cascade-peer " + args + " >/dev/full"},
                 std::chrono::seconds(10));
    EXPECT_EQ(r.code, to_int(ExitCode::failure)) << args << ": " << r.err;
    EXPECT_NE(r.err.find("cannot write to the standard output"), std::string::npos) << r.err;
  }
}

// A port in use (the peers' or the status pages') ends the run before the files are checked,
// which for a large seed takes minutes: the error is the first thing said, not the last.
TEST(Cli, APortInUseIsSaidBeforeTheFilesAreChecked) {
  const int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(taken, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  ASSERT_EQ(::getsockname(taken, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string port = std::to_string(ntohs(a.sin_port));
  const std::string cascade = vectors_dir() + "/sample.txt.cascade",
                    data = vectors_dir() + "/sample.txt";
  TempDir d;
  for (const auto& [args, reason] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"run", cascade, "127.0.0.1:1", "127.0.0.1:" + port, "-o", data}, "cannot listen"},
           {{"run", cascade, "127.0.0.1:1", "127.0.0.1:0", "-o", data, "--http",
             "127.0.0.1:" + port},
            "--http: cannot bind"},
           {{"run", cascade, "127.0.0.1:1", "127.0.0.1:" + port, "-o", d.file("new")},
            "cannot listen"},
           {{"run", cascade, "127.0.0.1:1", "127.0.0.1:0", "-o", d.file("new"), "--http",
             "127.0.0.1:" + port},
            "--http: cannot bind"}}) {
    auto r = run(bin_dir() + "/cascade-peer", args, std::chrono::seconds(20));
    EXPECT_EQ(r.code, to_int(ExitCode::failure)) << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
    // The check of the data file says how many blocks it found: it never ran.
    EXPECT_EQ(r.err.find("blocks present"), std::string::npos) << r.err;
    // Nor was a data file created for a download that never starts.
    EXPECT_FALSE(std::filesystem::exists(d.file("new")));
  }
  ::close(taken);
}

namespace {
std::string contents_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

// make -o given the data file under another spelling (./data, its absolute path, a link to it)
// would replace the data with its cascade file: refused, the data untouched.
TEST(Cli, MakeNeverWritesItsCascadeFileOverItsData) {
  TempDir d;
  const std::string data(100000, 'd');
  d.write("movie", data);
  std::filesystem::create_symlink("movie", d.file("link"));
  for (const std::string& out : {std::string("./movie"), d.file("movie"), std::string("link")}) {
    auto r = run(
        "/bin/sh",
        {"-c", "cd " + d.path() + " && exec " + bin_dir() + "/cascade-peer make movie -o " + out},
        std::chrono::seconds(10));
    EXPECT_EQ(r.code, to_int(ExitCode::usage)) << out << ": " << r.err;
    EXPECT_NE(r.err.find("would overwrite the data file"), std::string::npos) << r.err;
    EXPECT_TRUE(contents_of(d.file("movie")) == data) << out;
  }
}

// The files a run writes (statistics, events, port files) are never the files it shares: such a
// command line is a usage error before anything is written, and the shared files stay whole.
TEST(Cli, RunRefusesOutputsThatAreItsOwnFiles) {
  TempDir d;
  const std::string data(300000, 'x');
  d.write("d", data);
  ASSERT_EQ(run(bin_dir() + "/cascade-peer", {"make", d.file("d")}, std::chrono::seconds(10)).code,
            0);
  const std::string cascade = contents_of(d.file("d.cascade"));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--stats-json", d.file("d")}, "--stats-json " + d.file("d") + " is the data file"},
      {{"--events", d.file("d.cascade")}, "is the cascade file"},
      {{"--port-file", d.file("d.cascade-journal")}, "is the journal"},
      {{"--stats-json", d.file("s"), "--events", d.file("s")},
       "--events " + d.file("s") + " is also --stats-json's file"},
      {{"--http-port-file", d.file("h")}, "--http-port-file needs --http"}};
  for (const auto& [extra, reason] : cases) {
    std::vector<std::string> args = {"run", d.file("d.cascade"), "127.0.0.1:1", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(bin_dir() + "/cascade-peer", args, std::chrono::seconds(10));
    EXPECT_EQ(r.code, to_int(ExitCode::usage)) << reason << ": " << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
    EXPECT_TRUE(contents_of(d.file("d")) == data) << reason;
    EXPECT_EQ(contents_of(d.file("d.cascade")), cascade) << reason;
    EXPECT_FALSE(std::filesystem::exists(d.file("d.cascade-journal"))) << reason;
  }
  // Through a symbolic link to a data file still to be created (the write would follow it), and
  // two data files that are one through such a link.
  std::filesystem::create_symlink("new", d.file("link-to-new"));
  for (const auto& [extra, reason] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"-o", d.file("new"), "--stats-json", d.file("link-to-new")}, "is the data file"},
           {{"-o", d.file("new") + ":" + d.file("link-to-new")}, "is already the data file of"}}) {
    std::vector<std::string> args = {"run", d.file("d.cascade"), "127.0.0.1:1", "127.0.0.1:0"};
    if (extra.size() == 2)
      args[1] = d.file("d.cascade") + ":" + vectors_dir() + "/sample.txt.cascade";
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(bin_dir() + "/cascade-peer", args, std::chrono::seconds(10));
    EXPECT_EQ(r.code, to_int(ExitCode::usage)) << reason << ": " << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(d.file("new"))) << reason;
  }
  // Two outputs to one device are fine.
  auto r = run(bin_dir() + "/cascade-peer",
               {"run", d.file("d.cascade"), "127.0.0.1:1", "127.0.0.1:0", "--seed-time", "0.1",
                "--stats-json", "/dev/null", "--events", "/dev/null"},
               std::chrono::seconds(10));
  EXPECT_EQ(r.code, 0) << r.err;
}

// No output goes into a shared directory, where any file may be a data file now or later.
TEST(Cli, NoOutputGoesIntoASharedDirectory) {
  TempDir d;
  std::filesystem::create_directory(d.file("dir"));
  const std::string data(200000, 'y');
  d.write("dir/a", data);
  ASSERT_EQ(
      run(bin_dir() + "/cascade-peer", {"make", d.file("dir/a")}, std::chrono::seconds(10)).code,
      0);
  for (const std::string& stats : {d.file("dir/a"), d.file("dir/stats.json")}) {
    auto r = run(bin_dir() + "/cascade-peer",
                 {"run", d.file("dir"), "127.0.0.1:1", "127.0.0.1:0", "--seed-time", "0.5",
                  "--stats-json", stats},
                 std::chrono::seconds(20));
    EXPECT_EQ(r.code, to_int(ExitCode::usage)) << r.err;
    EXPECT_NE(r.err.find("--stats-json " + stats + " is in the shared directory"),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(contents_of(d.file("dir/a")) == data);
  }
  // Nor through a symbolic link that leads there.
  std::filesystem::create_symlink(d.file("dir/new.json"), d.file("outside.json"));
  auto linked = run(
      bin_dir() + "/cascade-peer",
      {"run", d.file("dir"), "127.0.0.1:1", "127.0.0.1:0", "--stats-json", d.file("outside.json")},
      std::chrono::seconds(20));
  EXPECT_EQ(linked.code, to_int(ExitCode::usage)) << linked.err;
  EXPECT_FALSE(std::filesystem::exists(d.file("dir/new.json")));
  // Run from inside it, a bare file name is there too.
  auto r = run("/bin/sh",
               {"-c", "cd " + d.file("dir") + " && exec " + bin_dir() +
                          "/cascade-peer run . 127.0.0.1:1 127.0.0.1:0 --events a"},
               std::chrono::seconds(20));
  EXPECT_EQ(r.code, to_int(ExitCode::usage)) << r.err;
  EXPECT_TRUE(contents_of(d.file("dir/a")) == data);
}

// The tracker's port files are not its configuration.
TEST(Cli, TheTrackerDoesNotWriteItsPortOverItsConfiguration) {
  TempDir d;
  const std::string config = R"({"port": 0, "open": true})";
  d.write("t.json", config);
  for (const std::string option : {"--port-file", "--http-port-file"}) {
    auto r = run(bin_dir() + "/cascade-tracker",
                 {"--config", d.file("t.json"), "--bind", "127.0.0.1", "--http", "127.0.0.1:0",
                  option, d.file("t.json")},
                 std::chrono::seconds(10));
    EXPECT_EQ(r.code, to_int(ExitCode::usage)) << r.err;
    EXPECT_NE(r.err.find(option + " " + d.file("t.json") + " is the configuration"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(contents_of(d.file("t.json")), config);
  }
}

// A bad cascade file later on the command line is found before any data file is created.
TEST(Cli, ABadCascadeFileLeavesNoNewDataFilesBehind) {
  TempDir d;
  std::filesystem::copy_file(vectors_dir() + "/sample.txt.cascade", d.file("a.cascade"));
  d.write("bad.cascade", "junk");
  auto r = run(bin_dir() + "/cascade-peer",
               {"run", d.file("a.cascade") + ":" + d.file("bad.cascade"), "127.0.0.1:1",
                "127.0.0.1:0", "-c"},
               std::chrono::seconds(10));
  EXPECT_EQ(r.code, to_int(ExitCode::usage)) << r.err;
  EXPECT_NE(r.err.find("bad.cascade"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(d.file("a")));
}

// Waits (bounded) until process `pid` has a handler for `sig` (the SigCgt mask of its status):
// a signal sent before that would meet the default action.
static bool catches(pid_t pid, int sig) {
  return eventually([&] {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("SigCgt:", 0) == 0)
        return ((std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1) != 0;
    return false;
  });
}

// SIGTERM while the files are checked (here 4 GiB hashed on one thread, about 2.5 s) stops the
// check and exits 0 with the exit event, instead of the default action killing the process; the
// tracker does the same while it reads a large configuration, where a SIGHUP is kept for after.
TEST(Cli, ASignalDuringStartUpStopsInOrder) {
  TempDir d;
  CascadeFile c;
  c.target_size = 4ull << 30;
  c.block_size = 1 << 20;
  c.block_hashes.resize(4096);  // the sparse file's blocks all mismatch: every one is hashed
  const Bytes encoded = encode_cascade_file(c);
  d.write("z.cascade", std::string(encoded.begin(), encoded.end()));
  { std::ofstream(d.file("z")).flush(); }
  std::filesystem::resize_file(d.file("z"), c.target_size);
  Process peer(bin_dir() + "/cascade-peer",
               {"run", d.file("z.cascade"), "127.0.0.1:1", "127.0.0.1:0", "--threads", "1",
                "--events", d.file("events")},
               d.path());
  ASSERT_TRUE(catches(peer.pid(), SIGTERM));
  // ... and once the check is under way (64 MiB of the file read): the signal stops it midway.
  ASSERT_TRUE(eventually([&] {
    std::ifstream in("/proc/" + std::to_string(peer.pid()) + "/io");
    for (std::string key; in >> key;) {
      std::uint64_t value = 0;
      in >> value;
      if (key == "rchar:") return value > (64u << 20);
    }
    return false;
  }));
  peer.signal(SIGTERM);
  EXPECT_EQ(peer.wait(std::chrono::seconds(20)), 0) << peer.err();
  EXPECT_NE(peer.err().find("signal 15 while starting: stopping"), std::string::npos) << peer.err();
  EXPECT_NE(read_text(d.file("events")).find(R"("code":0,"event":"exit")"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(d.file("z.cascade-journal")));

  // make keeps the default action: a SIGTERM ends it at once.
  Process make(bin_dir() + "/cascade-peer",
               {"make", d.file("z"), "--threads", "1", "-o", d.file("made.cascade")}, d.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  make.signal(SIGTERM);
  EXPECT_EQ(make.wait(std::chrono::seconds(20)), 128 + SIGTERM) << make.err();
  EXPECT_FALSE(std::filesystem::exists(d.file("made.cascade")));

  // 400,000 allowed hashes: about a second to read.
  std::string config = R"({"port": 0, "allowedhashes": [)";
  for (int i = 0; i < 400000; ++i) {
    char hash[80];
    std::snprintf(hash, sizeof hash, "%s\"%064x\"", i ? "," : "", i);
    config += hash;
  }
  config += "]}";
  d.write("t.json", config);
  for (const int sig : {SIGHUP, SIGTERM}) {
    const std::string port_file = d.file("t" + std::to_string(sig) + ".port");
    Process tracker(bin_dir() + "/cascade-tracker",
                    {"--config", d.file("t.json"), "--bind", "127.0.0.1", "--port-file", port_file},
                    d.path());
    ASSERT_TRUE(catches(tracker.pid(), sig));
    tracker.signal(sig);
    if (sig == SIGHUP) {  // read again once running, then a stop as usual
      EXPECT_TRUE(eventually_says(tracker, "configuration reloaded", std::chrono::seconds(60)))
          << tracker.err();
      tracker.signal(SIGTERM);
    }
    EXPECT_EQ(tracker.wait(std::chrono::seconds(60)), 0) << tracker.err();
    if (sig == SIGTERM) {
      EXPECT_NE(tracker.err().find("signal 15 while starting: stopping"), std::string::npos)
          << tracker.err();
      EXPECT_FALSE(std::filesystem::exists(port_file));
    }
  }
}

// A port file that cannot be written ends the run as a failure, in order: exit 1 and its event.
TEST(Cli, APortFileThatCannotBeWrittenIsAFailureInOrder) {
  TempDir d;
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--port-file", d.file("missing/p")},
        std::vector<std::string>{"--http", "127.0.0.1:0", "--http-port-file",
                                 d.file("missing/h")}}) {
    std::vector<std::string> args = {"run",         vectors_dir() + "/sample.txt.cascade",
                                     "127.0.0.1:1", "127.0.0.1:0",
                                     "-o",          d.file("data"),
                                     "--events",    d.file("events")};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(bin_dir() + "/cascade-peer", args, std::chrono::seconds(20));
    EXPECT_EQ(r.code, to_int(ExitCode::failure)) << r.err;
    EXPECT_NE(r.err.find("missing/"), std::string::npos) << r.err;
    EXPECT_NE(read_text(d.file("events")).find(R"("code":1,"event":"exit")"), std::string::npos)
        << extra[0];
    std::filesystem::remove(d.file("events"));
  }
}
