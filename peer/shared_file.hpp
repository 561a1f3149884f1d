// The state of one file that a peer process shares: its cascade file, its data on disk, which
// blocks are verified, and counters. Shared by the block server, the downloader and the app.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "peer/block_map.hpp"
#include "peer/journal.hpp"
#include "peer/storage.hpp"

namespace cascade {

struct SharedFile {
  SharedFile(std::string cascade_path_, std::string data_path_, CascadeFile meta_, Hash256 cascade_hash_)
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
  std::atomic<bool> journal_busy{false};  // a flush is queued or running on the pool
  BlockMap blocks;

  std::atomic<bool> complete{false};       // every block verified and the whole file's hash matched
  std::atomic<std::uint64_t> bytes_downloaded{0};
  std::atomic<std::uint64_t> blocks_served{0}, bytes_served{0};
  std::atomic<std::uint64_t> bad_blocks{0};  // blocks received whose hash or length was wrong
  std::atomic<int> active_sources{0};        // download connections open now
  // Block buffers of this file's download connections: each has one, and more while the total
  // stays within the budget (peak memory stays bounded however many peers we fetch from).
  static constexpr std::uint64_t buffer_budget = 8ull << 20;
  std::atomic<std::uint64_t> buffer_bytes{0};

  // Verified blocks received from each source ("ip:port" -> count).
  void count_source(const std::string& source) {
    std::lock_guard lock(sources_mutex);
    ++blocks_from[source];
  }
  std::map<std::string, std::uint64_t> sources() const {
    std::lock_guard lock(sources_mutex);
    return blocks_from;
  }

 private:
  mutable std::mutex sources_mutex;
  std::map<std::string, std::uint64_t> blocks_from;  // guarded by sources_mutex
};

}  // namespace cascade
