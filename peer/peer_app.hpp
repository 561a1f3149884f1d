// `cascade-peer run`: start-up, the block server, one downloader per file, progress, shutdown.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "peer/block_server.hpp"
#include "peer/downloader.hpp"

namespace cascade {

// Every default of `cascade-peer run` lives here (and in the option structs it holds); the
// command line's help prints them.
struct RunOptions {
  std::vector<std::string> cascade_paths;
  std::vector<std::string> data_paths;  // empty: each cascade path without its last extension
  std::string tracker;                  // host:port
  std::string self;                     // ip:port reported to the tracker (port 0: any free port)
  std::string listen;                   // address to bind instead of self's ip
  bool client_only = false;
  bool exit_when_done = false;  // serve while downloading, exit 0 once every file is complete
  bool quiet = false;
  bool verify_all = false;  // ignore journals: hash every block present at start-up
  bool keep_cache = false;  // leave downloaded pages in the page cache (Storage::drop_behind)
  bool spread = true;       // a file complete at start-up: every block out once before any twice
  std::uint64_t max_upload_rate = 0;    // bytes per second over all files and connections; 0: none
  std::uint64_t max_download_rate = 0;  // the same for downloads
  std::size_t threads = 0;              // network and worker threads each (0: one per core)
  std::uint64_t max_block_size = 64ull << 20;  // cascade files with larger blocks are refused
  std::string port_file;                       // write the bound port here once listening
  std::string stats_json;  // per-file statistics (JSON): rewritten every stats_period and at exit
  std::string events;      // NDJSON events to this path ("-": stdout); empty: none
  // Once every file is complete: serve this many more seconds, or until each file's bytes served
  // reach this multiple of its size (whichever comes first), then exit 0. Unset: serve on.
  std::optional<double> seed_time, seed_ratio;
  std::string http;            // IPv4:port for the status pages and metrics; empty: none
  std::string http_port_file;  // write the bound HTTP port here once listening
  BlockServer::Options serve;
  Downloader::Options download;
};

// Runs until done (client-only or exit-when-done: every file complete) or signalled. Returns the
// exit code; throws Fatal for what ends it before it runs (bad arguments, files, port).
int run_peer(RunOptions options);

}  // namespace cascade
