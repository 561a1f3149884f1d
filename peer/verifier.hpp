// Verifies the blocks of one file as they arrive and records the ones that pass; then checks the
// whole file. Check, write, record:
// - check: the block's SHA-256 against the cascade file's (a block of the wrong length fails),
//   computed here or given by the connection that read it (fetch.cpp);
// - write: pwrite into the data file;
// - record: BlockMap::finish (only now may it be served), statistics, the journal's queue, and the
//   whole-file SHA-256, which PrefixHasher extends over the verified prefix as it grows.
// When the last block is verified, on_all_verified() is called (from a pool thread); the
// downloader then runs check_whole(), which hashes what the prefix has not covered and compares.
//
// Thread-safety: check() from any pool thread, concurrently; check_whole() once, on the pool.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/exit.hpp"
#include "peer/prefix_hasher.hpp"
#include "peer/shared_file.hpp"

namespace cascade {

class Verifier {
 public:
  enum class Verdict { ok, bad, io_error };
  Verifier(std::shared_ptr<SharedFile> file, std::function<void(const Fatal&)> on_fatal,
           std::function<void()> on_all_verified);

  // Blocks verified before the download started (a resumed file) join the whole-file hash.
  void catch_up() { whole_.advance(); }
  // Checks, writes and records block `block` received from `source`. A disk error also calls
  // on_fatal (exit 1). `digest`: the SHA-256 of `data`, when the caller computed it already
  // (unset: computed here); the length and the comparison are always done here.
  Verdict check(std::uint64_t block, ByteSpan data, const std::string& source,
                const std::optional<Hash256>& digest = std::nullopt);
  // Once every block is verified: syncs the data file and compares the whole file's SHA-256
  // with the cascade file's. A match marks the file complete (and removes its journal);
  // otherwise the returned Fatal says why (exit 2: the cascade file is inconsistent; 1: disk).
  // `evict_all`: a download this peer will not serve (client-only) also evicts the pages the
  // group commits had not (Storage::drop_behind); a file complete at start-up is never evicted.
  std::optional<Fatal> check_whole(bool evict_all = false);

 private:
  static constexpr std::uint64_t not_yet = ~0ull;
  const std::shared_ptr<SharedFile> file_;
  const std::function<void(const Fatal&)> on_fatal_;
  const std::function<void()> on_all_verified_;
  PrefixHasher whole_;
  // Blocks the whole-file hash covered when the last block was verified (what the download did
  // not leave for the end); not_yet until then.
  std::atomic<std::uint64_t> hashed_at_last_block_{not_yet};
};

}  // namespace cascade
