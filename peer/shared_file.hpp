// The state of one file that a peer process shares: its cascade file, its data on disk, which
// blocks are verified, its journal, and its statistics. Shared by the block server, the
// downloader and the app; each field says who writes it.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "peer/asked_once.hpp"
#include "peer/block_map.hpp"
#include "peer/first_copies.hpp"
#include "peer/journal.hpp"
#include "peer/storage.hpp"

namespace cascade {

// Counters of one shared file. Every counter has one kind of writer, named beside it; anyone
// may read them at any time (each is atomic; together they are not a consistent snapshot).
struct FileStats {
  // Written by the verifier (worker pool) once a block's hash matched and it was written:
  std::atomic<std::uint64_t> bytes_downloaded{0};
  // Written by the verifier: blocks received whose hash or length was wrong, and blocks received
  // and verified in this run.
  std::atomic<std::uint64_t> bad_blocks{0}, blocks_verified{0};
  // Bad blocks of every file of the process (a metric that never goes down when a file leaves).
  static std::atomic<std::uint64_t>& all_bad_blocks() {
    static std::atomic<std::uint64_t> all{0};
    return all;
  }
  // Written by the block server's connections after each block sent:
  std::atomic<std::uint64_t> blocks_served{0}, bytes_served{0};
  // Written by the block server: requests answered "ask other peers first" (FirstCopies; the
  // busy answers are counted only process-wide, BlockServer::Counts).
  std::atomic<std::uint64_t> asked_elsewhere{0};
  // Written by the fetch connections as they open and close:
  std::atomic<int> active_sources{0};
  // Written once by the app when the download completed (its whole file verified): seconds since
  // the program started; negative until then, and for a file complete at start-up.
  std::atomic<double> complete_seconds{-1};

  struct Tally {
    std::uint64_t blocks = 0, bytes = 0;
  };
  // Written by the verifier: verified blocks received from each source ("ip:port").
  void count_source(const std::string& source, std::uint64_t bytes) {
    std::lock_guard lock(sources_mutex_);
    auto& t = blocks_from_[source];
    ++t.blocks;
    t.bytes += bytes;
  }
  std::map<std::string, Tally> sources() const {
    std::lock_guard lock(sources_mutex_);
    return blocks_from_;
  }
  // Written by the block server's connections: blocks sent to each client address ("ip": a
  // client's port is any ephemeral one).
  void count_served(std::uint32_t ip, std::uint64_t bytes) {
    std::lock_guard lock(sources_mutex_);
    auto& t = served_to_[ip];
    ++t.blocks;
    t.bytes += bytes;
  }
  std::map<std::uint32_t, Tally> served_to() const {
    std::lock_guard lock(sources_mutex_);
    return served_to_;
  }

 private:
  mutable std::mutex sources_mutex_;
  std::map<std::string, Tally> blocks_from_;  // guarded by sources_mutex_
  std::map<std::uint32_t, Tally> served_to_;  // guarded by sources_mutex_
};

// Memory for the block buffers of one file's download connections: each connection always gets
// its first buffer, and more only while all of them together stay within the budget, so peak
// memory stays bounded however many peers we fetch from. Thread-safe.
class BufferBudget {
 public:
  static constexpr std::uint64_t bytes = 8ull << 20;
  // Takes `n` bytes for a connection's first buffer (always granted).
  void take_first(std::uint64_t n) { used_ += n; }
  // Takes `n` bytes for one more buffer, if the budget allows.
  bool try_take(std::uint64_t n) {
    if (used_.fetch_add(n) + n > bytes) {
      used_ -= n;
      return false;
    }
    return true;
  }
  void give_back(std::uint64_t n) { used_ -= n; }

 private:
  std::atomic<std::uint64_t> used_{0};
};

struct SharedFile {
  SharedFile(std::string cascade_path_, std::string data_path_, CascadeFile meta_,
             Hash256 cascade_hash_)
      : cascade_path(std::move(cascade_path_)),
        data_path(std::move(data_path_)),
        meta(std::move(meta_)),
        cascade_hash(cascade_hash_),
        blocks(meta.block_count()) {}

  const std::string cascade_path, data_path;
  const CascadeFile meta;
  const Hash256 cascade_hash;
  std::unique_ptr<Storage> storage;  // set once at start-up, before any network activity
  std::unique_ptr<Journal> journal;  // set at start-up unless the file is complete; may be null
  // Set at start-up when the file is complete then (we bring it to the swarm) and spreading is
  // on: the block server sends every block once before any twice.
  std::unique_ptr<FirstCopies> first_copies;
  // The block server's "busy: ask other peers first" answers (UploadSlots), per file; remembered
  // for a few seconds (our client asks again within one).
  std::mutex busy_mutex;
  AskedOnce told_busy{std::chrono::seconds(5)};  // guarded by busy_mutex
  BlockMap blocks;  // verified: by the start-up scan, then by the verifier only
  FileStats stats;
  BufferBudget buffers;
  // Every block verified and the whole file's hash matched. Written once, by the downloader's
  // whole-file check (also for a file found complete at start-up: its whole hash is checked
  // before it counts as complete).
  std::atomic<bool> complete{false};
  // The data file's modification time (modified_ns) as its whole-file check began, set once the
  // check passed (0 until then): nothing of ours writes a complete file, so when the block server
  // finds another time, another program changed the file in place since it was verified.
  std::atomic<std::int64_t> verified_mtime_ns{0};
  // The block server found the file changed, or cut short (and logged it, and asked for a check).
  std::atomic<bool> changed_said{false};
};

}  // namespace cascade
