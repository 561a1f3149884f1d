// Creating cascade files from data files, streaming: memory stays bounded for any file size.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#include "common/thread_pool.hpp"
#include "proto/cascade_file.hpp"

namespace cascade {

// The block size `cascade-peer make` uses unless told otherwise.
inline constexpr std::uint64_t default_block_size = 1024 * 1024;

// Reads `data_path` once: the whole-file SHA-256 on the calling thread, block hashes on `pool`
// (so every core hashes). At most a few batches of about 4 MiB are in memory at once.
// Throws FileError on I/O errors.
CascadeFile make_cascade(const std::string& data_path, std::uint64_t block_size, ThreadPool& pool);

// A cascade file read from disk and decoded, with its cascade hash.
struct LoadedCascade {
  CascadeFile file;
  Hash256 cascade_hash{};
};
// Thrown by load_cascade_file: one line naming the file and what is wrong with it.
struct CascadeLoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Reads and decodes a cascade file, refusing block sizes above max_block_size.
LoadedCascade load_cascade_file(
    const std::string& path,
    std::uint64_t max_block_size = std::numeric_limits<std::uint64_t>::max());

// The data file named by convention: the cascade path without its last extension.
std::string default_data_path(const std::string& cascade_path);

}  // namespace cascade
