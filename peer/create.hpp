// Creating cascade files from data files, streaming: memory stays bounded for any file size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/thread_pool.hpp"
#include "proto/cascade_file.hpp"

namespace cascade {

inline constexpr std::uint64_t default_block_size = 1024 * 1024;

// Reads `data_path` once: the whole-file SHA-256 on the calling thread, block hashes on `pool`
// (so every core hashes). At most a few batches of about 4 MiB are in memory at once.
// Throws FileError on I/O errors.
CascadeFile make_cascade(const std::string& data_path, std::uint64_t block_size, ThreadPool& pool);

// The data file named by convention: the cascade path without its last extension.
std::string default_data_path(const std::string& cascade_path);

}  // namespace cascade
