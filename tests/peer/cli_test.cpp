// The command lines: each default has one source (the option structs), the help prints it, and
// the README quotes the help verbatim. Errors are one line and the documented exit code.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/exit.hpp"
#include "tests/support/process.hpp"

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
           {"make", "/nonexistent/file"},
           {"info", "/nonexistent/file.cascade"},
           {"frobnicate"}}) {
    auto r = run(bin_dir() + "/cascade-peer", args);
    EXPECT_EQ(r.code, to_int(ExitCode::usage)) << args[0] << " " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("cascade-peer: ", 0), 0u) << r.err;
  }
  auto t = run(bin_dir() + "/cascade-tracker", {"--config", "/nonexistent.json"});
  EXPECT_EQ(t.code, to_int(ExitCode::usage));
  EXPECT_EQ(t.err.rfind("cascade-tracker: ", 0), 0u) << t.err;
}
