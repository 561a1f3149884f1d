// One data file on disk, addressed by blocks of its cascade file.
//
// Opening never truncates: an existing partial file keeps its bytes, and scan() finds out which
// blocks already hash correctly. Reads and writes are pread/pwrite, safe from several worker
// threads at once. Every method may block on disk: call it from the worker pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
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
  // Opens or creates `path`. Throws FileError (errno EFBIG) if it is longer than the target.
  Storage(const std::string& path, const CascadeFile& meta);

  // Hashes every block that lies within the file's current size and is not marked in `known`,
  // spread over `pool`; returns `known` plus the blocks whose SHA-256 matches.
  std::vector<bool> scan(ThreadPool& pool, std::vector<bool> known = {}) const;
  std::uint64_t current_size() const { return file_.size(); }
  // True when block `index` of `data` hashes to the cascade file's hash for it (and has its
  // length).
  bool block_matches(std::uint64_t index, std::span<const std::uint8_t> data) const;
  void read(std::uint64_t offset, std::span<std::uint8_t> out) const { file_.read_at(offset, out); }
  void write_block(std::uint64_t index, std::span<const std::uint8_t> data);
  // SHA-256 of the whole file as it is on disk (streaming, bounded memory).
  Hash256 hash_whole() const;
  // Feeds bytes [offset, offset + length) of the file to `h`, read in cache-sized chunks.
  void hash_range(Sha256& h, std::uint64_t offset, std::uint64_t length) const;
  // Makes every written byte durable (fdatasync); then, unless keep_cache(true), asks the kernel
  // to drop the page-cache pages of the bytes done_with_below() named since the last sync: they
  // are on the disk and hashed, and only serving them again needs them (read back on demand).
  // A download then reuses a few hundred MiB of page cache instead of growing it by the file's
  // size: on ext4, 1 GiB (scripts/bench/swarm.sh, the same run) W1 took 0.54 x and W2 0.66 x as
  // long as with the pages kept (an earlier run, both orders: 0.76 x and 0.79 x), the leecher's
  // CPU time 0.61 x, as fresh pages cost this machine more to fill than reused ones. A peer that
  // keeps serving the file reads it back from the disk.
  void sync();
  // The bytes [0, offset) are in the whole-file hash (PrefixHasher): nothing here needs them in
  // memory any more.
  void done_with_below(std::uint64_t offset) const;
  void keep_cache(bool keep) { keep_cache_ = keep; }

  const std::string& path() const { return file_.path(); }
  const CascadeFile& meta() const { return meta_; }
  int fd() const { return file_.fd(); }

 private:
  File file_;
  const CascadeFile& meta_;
  // Writers take turns: concurrent pwrite()s to one file only spin on the kernel's inode lock.
  std::mutex write_mutex_;
  std::uint64_t writes_ = 0;  // guarded by write_mutex_; for fault injection
  std::atomic<bool> keep_cache_{false};
  mutable std::atomic<std::uint64_t> done_below_{0};
  std::atomic<std::uint64_t> dropped_below_{0};  // what sync() asked the kernel to drop
};

}  // namespace cascade
