// One data file on disk, addressed by blocks of its cascade file.
//
// Opening never truncates: an existing partial file keeps its bytes, and scan() finds out which
// blocks already hash correctly. Reads and writes are pread/pwrite, safe from several worker
// threads at once. Every method but cached() and dropped_below() may block on disk: call it from
// the worker pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "common/sha256.hpp"
#include "common/thread_pool.hpp"
#include "proto/cascade_file.hpp"

namespace cascade {

class Storage {
 public:
  // Opens or creates `path`. Throws FileError (errno EFBIG) if it is longer than the target. A
  // file this process may read but not write (another user's, read-only media) is opened for
  // reading: enough to seed it once it proves complete (read_only() says why it is).
  // An empty file (a download about to start) gets its whole length reserved on the disk past
  // its size (fallocate, FALLOC_FL_KEEP_SIZE: nothing reads as present), on ext4 and XFS and
  // while the disk has at least twice the room: the file system then allocates the file's
  // extents once instead of at each writeback (ext4, 1 GiB, scripts/bench/swarm.sh A/B in one
  // run: W1 0.974 x, W2 0.934 x, the leechers' CPU 0.98 x and 0.92 x). Best effort, no error.
  Storage(const std::string& path, const CascadeFile& meta);
  const std::optional<std::string>& read_only() const { return read_only_; }

  // Hashes every block that lies within the file's current size and is not marked in `known`,
  // spread over `pool`; returns `known` plus the blocks whose SHA-256 matches. Throws
  // StopRequested once early_stop_signal() or `*stop` is set (0 for the signal of the latter).
  std::vector<bool> scan(ThreadPool& pool, std::vector<bool> known = {},
                         const std::atomic<bool>* stop = nullptr) const;
  std::uint64_t current_size() const { return file_.size(); }
  std::int64_t modified_ns() const { return file_.modified_ns(); }
  // True when block `index` of `data` hashes to the cascade file's hash for it (and has its
  // length). `digest`: the SHA-256 of `data`, when the caller computed it already.
  bool block_matches(std::uint64_t index, std::span<const std::uint8_t> data,
                     const std::optional<Hash256>& digest = std::nullopt) const;
  void read(std::uint64_t offset, std::span<std::uint8_t> out) const { file_.read_at(offset, out); }
  void write_block(std::uint64_t index, std::span<const std::uint8_t> data);
  // SHA-256 of the whole file as it is on disk (streaming, bounded memory).
  Hash256 hash_whole() const;
  // Feeds bytes [offset, offset + length) of the file to `h`, read in cache-sized chunks.
  void hash_range(Sha256& h, std::uint64_t offset, std::uint64_t length) const;
  // Makes every written byte durable (fdatasync). The bytes done_with_below() had named when it
  // began (written before they were hashed) are then on the disk: drop_behind() may drop them.
  void sync();
  // The bytes [0, offset) are in the whole-file hash (PrefixHasher): once durable, nothing here
  // needs them in memory any more.
  void done_with_below(std::uint64_t offset);
  // Unless keep_cache(true): asks the kernel to evict the page-cache pages of the bytes both
  // hashed and durable (see sync()) that it has not evicted yet (whole pages; the file's last
  // page with the end). After every group commit (Journal): a file complete at start-up has none
  // and stays cached for serving, as do the last blocks a download hashes after its last commit
  // unless it will not serve them (client-only: Verifier::check_whole evicts those too).
  // The download recycles the memory it freed instead of growing the cache by the file's size: on
  // this project's 2-core VMs (ext4, 1 GiB, scripts/bench/swarm.sh, against --keep-cache in the
  // same runs) W1 took 0.54-0.76 x and W2 0.66-0.79 x as long, the leecher's CPU time 0.61-0.70
  // x, as memory the VM had not used lately costs more to fill than memory just freed. Serving an
  // evicted block reads it back from the disk: BlockServer asks cached() and has warm() read it
  // in on the pool first (serving every evicted block by copying on the pool instead made W2
  // 1.23 x as slow in one A/B).
  void drop_behind();
  // Below this offset drop_behind() has evicted the pages (what tests observe of it).
  std::uint64_t dropped_below() const { return dropped_below_.load(); }
  // Whether every page of [offset, offset + length) is in the page cache (cachestat(2): Linux
  // 6.5+, x86_64 and aarch64; true where it cannot tell), so reading it should not wait for the
  // disk. Best effort: a page still being read in counts. Never blocks: a network thread asks.
  bool cached(std::uint64_t offset, std::uint64_t length) const;
  // Whether cached() can tell here (for tests).
  static bool can_tell_cached();
  // Reads [offset, offset + length) into the page cache (and throws the bytes away): on the
  // pool, before a network thread sends them with sendfile(). Errors are left to that send.
  void warm(std::uint64_t offset, std::uint64_t length) const;
  void keep_cache(bool keep) { keep_cache_ = keep; }

  const std::string& path() const { return file_.path(); }
  const CascadeFile& meta() const { return meta_; }
  int fd() const { return file_.fd(); }

 private:
  void reserve();                         // the constructor's fallocate of an empty file
  std::optional<std::string> read_only_;  // why it cannot be written, if it cannot
  File file_;
  const CascadeFile& meta_;
  // Writers take turns: concurrent pwrite()s to one file only spin on the kernel's inode lock.
  std::mutex write_mutex_;
  std::uint64_t writes_ = 0;  // guarded by write_mutex_; for fault injection
  std::atomic<bool> keep_cache_{false};
  std::atomic<std::uint64_t> done_below_{0};     // hashed (PrefixHasher)
  std::atomic<std::uint64_t> durable_below_{0};  // hashed and durable (sync())
  std::mutex drop_mutex_;                        // one drop_behind() at a time
  std::atomic<std::uint64_t> dropped_below_{0};  // evicted; written under drop_mutex_
};

}  // namespace cascade
