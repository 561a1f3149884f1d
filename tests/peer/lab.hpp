// A lab for peer tests with real processes: a tracker, files, peers, fake peers, statistics.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/sha256.hpp"
#include "tests/support/client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tracker.hpp"

namespace cascade::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string peer_bin() {
  return bin_dir() + "/cascade-peer";
}

inline void write_random(const std::string& path, std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary) << data;
}

// A tracker plus helpers to make files and start peers, all in one temporary directory.
class Lab {
 public:
  Lab() { tracker_port = start_tracker("tracker"); }
  std::uint16_t start_tracker(const std::string& name) {
    auto t =
        test::start_tracker(dir, name, R"({"port": 0, "open": true})", {"--stats-interval", "0"});
    procs.push_back(std::move(t.process));
    return t.port;
  }
  // Random data of `size` bytes and its cascade file; returns the cascade path.
  std::string make_file(const std::string& name, std::size_t size, const std::string& block_size,
                        std::uint64_t seed = 7) {
    write_random(dir.file(name), size, seed);
    auto r = run(peer_bin(), {"make", dir.file(name), "--block-size", block_size, "-o",
                              dir.file(name + ".cascade")});
    EXPECT_EQ(r.code, 0) << r.err;
    return dir.file(name + ".cascade");
  }
  std::string tracker(std::uint16_t port = 0) const {
    return "127.0.0.1:" + std::to_string(port ? port : tracker_port);
  }

  // Starts `cascade-peer run`; name picks its port and stats files.
  Process& peer(const std::string& name, const std::string& sources, const std::string& outputs,
                std::vector<std::string> extra = {}, std::uint16_t tracker_at = 0) {
    std::vector<std::string> args = {"run",
                                     sources,
                                     tracker(tracker_at),
                                     "127.0.0.1:0",
                                     "-o",
                                     outputs,
                                     "--port-file",
                                     dir.file(name + ".port"),
                                     "--stats-json",
                                     dir.file(name + ".json"),
                                     "--log-level",
                                     "debug"};
    // Tests list every second unless they say otherwise.
    if (std::find(extra.begin(), extra.end(), "--list-interval") == extra.end())
      extra.insert(extra.end(), {"--list-interval", "1"});
    args.insert(args.end(), extra.begin(), extra.end());
    procs.push_back(std::make_unique<Process>(peer_bin(), args, dir.path()));
    return *procs.back();
  }
  std::uint16_t port_of(const std::string& name) {
    return static_cast<std::uint16_t>(wait_for_port_file(dir.file(name + ".port")));
  }
  Process& fake(const std::string& name, const std::string& cascade, const std::string& data,
                const std::string& mode, int delay_ms = 0, std::uint16_t tracker_at = 0) {
    procs.push_back(std::make_unique<Process>(
        bin_dir() + "/fake_peer",
        std::vector<std::string>{"--cascade", cascade, "--data", data, "--tracker-port",
                                 std::to_string(tracker_at ? tracker_at : tracker_port),
                                 "--port-file", dir.file(name + ".port"), "--mode", mode,
                                 "--delay-ms", std::to_string(delay_ms)},
        dir.path()));
    return *procs.back();
  }
  // A fake honest seed answering each block after `delay_ms`, registered with the tracker.
  bool slow_seed(const std::string& name, const std::string& cascade, int delay_ms) {
    fake(name, cascade, dir.file("data.bin"), "honest", delay_ms);
    const std::uint16_t port = port_of(name);
    return port != 0 && wait_listed(cascade, {port});
  }
  // The swarm's name: the SHA-256 of the cascade file's bytes.
  static Hash256 cascade_hash(const std::string& cascade) {
    const std::string text = read_text(cascade);
    return sha256(ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
  // Waits (bounded) until the tracker lists every peer serving on `ports` for `cascade`.
  bool wait_listed(const std::string& cascade, const std::vector<std::uint16_t>& ports,
                   std::chrono::seconds limit = 10s) const {
    const Hash256 hash = cascade_hash(cascade);
    return eventually(
        [&] {
          // Asked as a port nobody serves on, so no listed peer is left out as the asker.
          const auto r =
              tracker_call(tracker_port, TrackerRequest{TrackerCommand::list, hash, 0x7f000001, 1});
          std::size_t found = 0;
          for (std::uint16_t p : ports)
            for (const auto& e : r.peers) found += e.port == p;
          return found == ports.size();
        },
        limit);
  }
  json stats(const std::string& name) const {
    const std::string text = read_text(dir.file(name + ".json"));
    if (text.empty()) return json();
    try {
      return json::parse(text);
    } catch (const json::exception&) {
      return json();
    }
  }
  bool complete(const std::string& name) const {
    json s = stats(name);
    if (!s.contains("files")) return false;
    for (const auto& f : s["files"])
      if (!f["complete"].get<bool>()) return false;
    return true;
  }
  bool wait_complete(const std::string& name, std::chrono::seconds limit = 60s) const {
    return eventually([&] { return complete(name); }, limit);
  }
  // Blocks verified so far over all of a peer's files, by its statistics (0 before the first).
  int verified(const std::string& name) const {
    const json s = stats(name);
    int n = 0;
    if (s.contains("files"))
      for (const auto& f : s["files"]) n += f.value("verified_blocks", 0);
    return n;
  }
  bool same_file(const std::string& a, const std::string& b) const {
    return read_text(a) == read_text(b);
  }

  TempDir dir;
  std::uint16_t tracker_port = 0;
  std::vector<std::unique_ptr<Process>> procs;
};

inline std::uint64_t blocks_from_port(const json& stats, std::uint16_t port) {
  std::uint64_t n = 0;
  for (const auto& f : stats["files"])
    for (const auto& [src, blocks] : f["blocks_from"].items())
      if (src == "127.0.0.1:" + std::to_string(port)) n += blocks.get<std::uint64_t>();
  return n;
}

}  // namespace cascade::test
