#include "peer/verifier.hpp"

#include "common/log.hpp"

namespace cascade {

Verifier::Verifier(std::shared_ptr<SharedFile> file, std::function<void(const Fatal&)> on_fatal,
                   std::function<void()> on_all_verified)
    : file_(std::move(file)),
      on_fatal_(std::move(on_fatal)),
      on_all_verified_(std::move(on_all_verified)),
      whole_(file_->blocks, *file_->storage) {}

Verifier::Verdict Verifier::check(std::uint64_t b, ByteSpan data, const std::string& source,
                                  const std::optional<Hash256>& digest) {
  SharedFile& f = *file_;
  Verdict v = Verdict::ok;
  std::string io_error;
  bool written = false;
  if (!f.storage->block_matches(b, data, digest)) {
    v = Verdict::bad;
  } else if (f.blocks.claim_write(b)) {  // else verified already, or being written: not twice
    try {
      f.storage->write_block(b, data);
      written = true;
    } catch (const std::exception& e) {
      f.blocks.drop_write(b);
      io_error = e.what();
      v = Verdict::io_error;
    }
  }
  // Only now, hash matched and bytes written, does the block count as held.
  bool last = false;
  if (f.blocks.finish(b, written)) {
    f.stats.bytes_downloaded += data.size();
    ++f.stats.blocks_verified;
    f.stats.count_source(source, data.size());
    log::debug("verified block ", b, " of ", f.data_path, " from ", source);
    if (f.journal) f.journal->add(b);
    if (f.blocks.complete()) {
      std::uint64_t unset = not_yet;
      last = hashed_at_last_block_.compare_exchange_strong(unset, whole_.hashed_blocks());
    }
    whole_.advance(b, data);
  }
  if (v == Verdict::bad) {
    ++f.stats.bad_blocks;
    ++FileStats::all_bad_blocks();
    log::warn(source, ": block ", b, " failed its SHA-256 check");
  }
  if (v == Verdict::io_error) on_fatal_(Fatal(ExitCode::failure, io_error));
  if (last) on_all_verified_();
  return v;
}

std::optional<Fatal> Verifier::check_whole(bool evict_all) {
  SharedFile& f = *file_;
  std::int64_t mtime = 0;
  try {
    f.storage->sync();
    mtime = f.storage->modified_ns();  // after our last write, before the whole file is read
    if (whole_.finish() != f.meta.target_hash) {
      // Either the cascade file's block hashes do not make its whole-file hash, or the data file
      // was changed behind a journal that vouched for its blocks. The journal goes either way, so
      // the next start hashes every block again (and fetches any that changed).
      if (f.journal) f.journal->remove();
      return Fatal(ExitCode::usage,
                   f.cascade_path + ": every block of " + f.data_path +
                       " verified but the whole file's SHA-256 does not match: the cascade file "
                       "is inconsistent, or the data file changed since its blocks were verified "
                       "(the next start hashes every block again)");
    }
    if (evict_all && hashed_at_last_block_.load() != not_yet) {
      f.storage->sync();  // the tail finish() hashed is durable too: all of it may go
      f.storage->drop_behind();
    }
  } catch (const std::exception& e) {
    return Fatal(ExitCode::failure, e.what());
  }
  f.verified_mtime_ns = mtime;
  f.complete = true;
  if (f.journal) f.journal->remove();  // a complete file needs no redo log
  const std::uint64_t early = hashed_at_last_block_.load();
  if (early == not_yet)
    log::info(f.data_path, ": complete, whole-file SHA-256 verified");
  else
    log::info(f.data_path, ": complete, whole-file SHA-256 verified (", early, " of ",
              f.meta.block_count(), " blocks hashed before the last block was verified, ",
              whole_.hashed_from_memory(), " straight from memory)");
  return std::nullopt;
}

}  // namespace cascade
