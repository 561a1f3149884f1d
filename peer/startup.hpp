// Start-up of `cascade-peer run`: open each shared file without truncating it, find the blocks
// already present (the journal's, then hashing the rest on every core), and start a fresh journal
// for a file that is not complete.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/thread_pool.hpp"
#include "peer/shared_file.hpp"

namespace cascade {

// Reads the cascade file; the data file is not touched yet. Throws Fatal (exit 2) for a bad one.
std::shared_ptr<SharedFile> load_shared_file(const std::string& cascade_path,
                                             const std::string& data_path,
                                             std::uint64_t max_block_size);
// Opens (or creates) the data file of a loaded file. Throws Fatal: exit 2 for a data file longer
// than the cascade file says, a directory or a device; 1 for other disk errors.
void open_data_file(SharedFile& f);
// Both.
std::shared_ptr<SharedFile> open_shared_file(const std::string& cascade_path,
                                             const std::string& data_path,
                                             std::uint64_t max_block_size);

// Marks the blocks already present as verified (those the journal proves durable without
// hashing, unless `verify_all`; the rest by hashing them on `pool`), logs what it found, and
// starts the file's journal unless it is complete. Throws Fatal (exit 1) on a disk error, and
// StopRequested (Storage::scan) on a signal at start-up or once `*stop` is set.
void find_present_blocks(SharedFile& file, ThreadPool& pool, bool verify_all,
                         const std::atomic<bool>* stop = nullptr);

}  // namespace cascade
