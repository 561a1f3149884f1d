// `cascade-peer run`: start-up, the block server, one downloader per file, progress, shutdown.
#pragma once

#include <string>
#include <vector>

#include "peer/downloader.hpp"

namespace cascade {

struct RunOptions {
  std::vector<std::string> cascade_paths;
  std::vector<std::string> data_paths;  // empty: each cascade path without its last extension
  std::string tracker;                  // host:port
  std::string self;                     // ip:port reported to the tracker (port 0: any free port)
  std::string listen;                   // address to bind instead of self's ip
  bool client_only = false;
  bool exit_when_done = false;          // serve while downloading, exit 0 once every file is complete
  bool quiet = false;
  bool verify_all = false;              // ignore journals: hash every block present at start-up
  std::size_t threads = 0;              // network and worker threads each (0: one per core)
  std::size_t max_connections = 512;    // serving connections at once
  std::size_t max_connections_per_ip = 256;  // serving connections from one address
  std::uint64_t max_block_size = 64ull << 20;  // cascade files with larger blocks are refused
  std::string port_file;                // write the bound port here once listening
  std::string stats_json;               // per-file statistics (JSON): rewritten every 200 ms and at exit
  Downloader::Options download;
};

// Runs until done (client-only: every file complete) or signalled. Returns the exit code:
// 0 success, 1 runtime failure, 2 usage or invalid input.
int run_peer(RunOptions options);

}  // namespace cascade
