// Starting a real cascade-tracker from tests: the one helper every test uses.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace cascade::test {

struct StartedTracker {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;  // 0: it did not start (a test failure is recorded)
};

// Writes `config_json` to DIR/NAME.json and starts cascade-tracker on 127.0.0.1, on a port of
// its choosing, with `extra` arguments; waits (bounded) for its port file DIR/NAME.port.
inline StartedTracker start_tracker(const TempDir& dir, const std::string& name,
                                    const std::string& config_json,
                                    std::vector<std::string> extra = {}) {
  dir.write(name + ".json", config_json);
  std::vector<std::string> args = {
      "--config",    dir.file(name + ".json"), "--bind", "127.0.0.1", "--port", "0",
      "--port-file", dir.file(name + ".port")};
  args.insert(args.end(), extra.begin(), extra.end());
  StartedTracker t;
  t.process = std::make_unique<Process>(bin_dir() + "/cascade-tracker", args, dir.path());
  t.port = static_cast<std::uint16_t>(wait_for_port_file(dir.file(name + ".port")));
  if (t.port == 0) ADD_FAILURE() << "the tracker did not start: " << t.process->err();
  return t;
}

}  // namespace cascade::test
