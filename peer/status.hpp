// The peer's HTTP pages (--http): /metrics (Prometheus), /status.json and / (HTML). Each is made
// from a PeerSnapshot: counters read from atomics and short-locked maps, taken at most four times
// a second however often pages are asked for; rates come from the difference to a snapshot about
// a second older.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/http_service.hpp"
#include "common/metrics.hpp"
#include "peer/block_server.hpp"
#include "peer/file_set.hpp"

namespace cascade {

struct PeerSnapshot {
  double taken_seconds = 0;       // since start (monotonic): rates divide by differences of it
  double start_time_seconds = 0;  // Unix time
  struct Peer {
    std::string address;  // ip:port of a source; ip of a client
    std::uint64_t blocks = 0, bytes = 0;
  };
  struct File {
    std::string name, cascade_path, data_path, cascade_hash;
    std::uint64_t size = 0, block_size = 0, blocks = 0, verified = 0;
    bool complete = false;
    double complete_seconds = -1;
    std::uint64_t bytes_downloaded = 0, blocks_verified = 0, bad_blocks = 0;
    std::uint64_t blocks_served = 0, bytes_served = 0, asked_elsewhere = 0;
    int active_sources = 0;
    std::size_t peers_known = 0, peers_banned = 0;
    std::vector<Peer> from, to;  // blocks received from each source, sent to each client
    std::uint64_t journal_commits = 0;
  };
  std::vector<File> files;
  bool serving = false;
  BlockServer::Counts serve;
  metrics::Histogram::Snapshot commit_latency;  // every journal of the process
  std::uint64_t bad_blocks = 0;                 // every file of the process
};

// Reads the running peer's state. `server` may be null (client-only).
PeerSnapshot take_peer_snapshot(const std::vector<FileSet::Entry>& files, const BlockServer* server,
                                double since_start, double start_time);

// Renderings; `before` (may be null) is an older snapshot for rates.
std::string peer_metrics_text(const PeerSnapshot& s);
std::string peer_status_json(const PeerSnapshot& s, const PeerSnapshot* before);
std::string peer_status_html(const PeerSnapshot& s, const PeerSnapshot* before,
                             int refresh_seconds);

class PeerPages {
 public:
  explicit PeerPages(std::function<PeerSnapshot()> take) : take_(std::move(take)) {}
  std::vector<http::Route> routes();

 private:
  struct View {
    std::shared_ptr<const PeerSnapshot> now, before;
  };
  View view();
  std::function<PeerSnapshot()> take_;
  std::mutex mutex_;
  std::deque<std::shared_ptr<const PeerSnapshot>> history_;  // guarded by mutex_; oldest first
  std::chrono::steady_clock::time_point last_taken_;         // guarded by mutex_
};

}  // namespace cascade
