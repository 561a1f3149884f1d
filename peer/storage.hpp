// One data file on disk, addressed by blocks of its cascade file.
//
// Opening never truncates: an existing partial file keeps its bytes, and scan() finds out which
// blocks already hash correctly. Reads and writes are pread/pwrite, safe from several worker
// threads at once. Every method may block on disk: call it from the worker pool.
#pragma once

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
  void sync() { file_.sync_data(); }

  const std::string& path() const { return file_.path(); }
  const CascadeFile& meta() const { return meta_; }
  int fd() const { return file_.fd(); }

 private:
  File file_;
  const CascadeFile& meta_;
  // Writers take turns: concurrent pwrite()s to one file only spin on the kernel's inode lock.
  std::mutex write_mutex_;
  std::uint64_t writes_ = 0;  // guarded by write_mutex_; for fault injection
};

}  // namespace cascade
