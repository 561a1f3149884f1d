// Fetches the missing blocks of one file from the swarm: the manager of one file's download.
//
// Units (each in its own file, each with one job):
// - TrackerSession (per tracker): when to SUBSCRIBE and LIST, with backoff; feeds the PeerTable.
// - PeerTable: known peers, strikes and bans, retry times, "don't have" memory and what each
//   peer said it holds. Pure.
// - fetch_from(): one connection speaking the fetch protocol, pipelined; its InFlight record is
//   what the BlockMap's picker passes over.
// - CheckQueue (per connection) and Verifier (per file): check, write, record; then the whole file.
// The manager here only ties them together: it keeps up to `connections` fetches running, asks
// its tracker sessions for peers, and runs the whole-file check once the last block is verified.
//
// Threading: the manager runs on its own strand; each fetch on its own. The PeerTable has its own
// mutex and the BlockMap its own; neither is held while calling into the other.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/endpoint.hpp"
#include "common/exit.hpp"
#include "common/net.hpp"
#include "peer/events.hpp"
#include "peer/peer_table.hpp"
#include "peer/shared_file.hpp"

namespace cascade {

class Downloader {
 public:
  // Every default lives here; the command line shows these values in its help.
  struct Options {
    // Fetch connections at once, per file. Many, so a swarm's load spreads over all its uplinks:
    // with 8 of 16 leechers, the peers every leecher met first served 13 of them and the last
    // to join served 2, idle half the time (lab: 16 leechers, 1 MiB blocks, 1.45 x T* with 8,
    // 1.39 x with 16; UploadSlots turns away what a busy peer cannot send at once).
    std::size_t connections = 16;
    std::size_t pipeline = 0;  // outstanding requests per connection (0: 4 MiB's worth, 4 to 64)
    // Picks are random within this many bytes after the first missing block (0: anywhere), so
    // the whole-file hash can follow the download (see BlockMap and PrefixHasher).
    std::uint64_t window_bytes = 64ull << 20;
    net::Millis connect_timeout{3000};
    net::Millis block_timeout{30000};  // a whole block (header and bytes) must arrive in this
    net::Millis tracker_timeout{5000};
    std::chrono::seconds announce_interval{600};
    std::chrono::seconds list_interval{30};  // between LISTs (TrackerSchedule: sooner as it forms)
    bool client_only = false;                // LIST only, never SUBSCRIBE
    std::size_t max_peers = 1000;            // peers remembered per file
    TokenBucket* download = nullptr;         // the process's download limit (null: none)
    Events* events = nullptr;                // --events (null: none)
    struct Tracker {
      std::string host, port;
    };
    // Each is asked on its own schedule; a dead or slow one never delays the others.
    std::vector<Tracker> trackers;
    Endpoint self;  // the address this peer reports; never used as a source
  };
  // on_fatal: a failure that ends the process (a disk error: exit 1; the whole file does not
  // match its cascade file: exit 2). on_complete: the whole file was verified (called once).
  Downloader(asio::io_context& io, ThreadPool& pool, std::shared_ptr<SharedFile> file,
             Options options, std::function<void(const Fatal&)> on_fatal,
             std::function<void()> on_complete);
  ~Downloader();
  void start();
  void stop();  // thread-safe
  // The peers this file's download knows, is banning and is connected to now (thread-safe).
  PeerTable::Counts peer_counts() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cascade
