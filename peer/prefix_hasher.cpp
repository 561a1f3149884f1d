#include "peer/prefix_hasher.hpp"

#include <stdexcept>

#include "common/log.hpp"
#include "common/system.hpp"

namespace cascade {

PrefixHasher::PrefixHasher(const BlockMap& blocks, Storage& storage)
    : blocks_(blocks), storage_(storage) {}

void PrefixHasher::hash_prefix(std::uint64_t block, ByteSpan data, bool hand_off) {
  if (broken_) return;
  const CascadeFile& meta = storage_.meta();
  for (std::uint64_t limit = blocks_.verified_prefix(); next_ < limit; ++next_) {
    if (hand_off && next_ != block && next_ >= handoff_.load())
      break;  // a waiting verifier hashes it from memory (advance)
    // advance() is best effort, finish() does the rest: a process stopping while it starts does
    // not first catch up over a resumed file's verified blocks.
    if (hand_off && early_stop_signal()) break;
    if (next_ == block && data.size() == meta.block_length(block)) {
      sha_.update(data);
      ++from_memory_;
    } else {
      storage_.hash_range(sha_, meta.block_offset(next_), meta.block_length(next_));
    }
    hashed_.store(next_ + 1);
  }
  if (next_ > 0)
    storage_.done_with_below(meta.block_offset(next_ - 1) + meta.block_length(next_ - 1));
}

void PrefixHasher::advance(std::uint64_t block, ByteSpan data) {
  {
    std::unique_lock lock(mutex_);
    if (busy_) {
      again_ = true;
      // Hand off: the owner stops before this block and hands the hash over, and it is hashed from
      // `data`. Only one waiter at a time, and only for a block in the prefix that the owner has
      // not begun (it is past the one being hashed, `at`) and reaches within a few milliseconds.
      const std::uint64_t at = hashed_.load();
      if (block == no_block || data.empty() || block <= at ||
          (block - at) * storage_.meta().block_size > handoff_bytes ||
          block >= blocks_.verified_prefix() || handoff_.load() != no_block)
        return;
      handoff_.store(block);
      idle_.wait(lock, [this] { return handed_ || !busy_; });
      handoff_.store(no_block);
      handed_ = false;
    }
    busy_ = true;
  }
  for (;;) {
    try {
      hash_prefix(block, data, true);
    } catch (const std::exception& e) {
      log::warn(storage_.path(), ": reading back for the whole-file hash failed (", e.what(),
                "); it will be hashed again at the end");
      broken_ = true;
    }
    block = no_block;  // the buffer is only known for the first pass
    std::lock_guard lock(mutex_);
    if (handoff_.load() != no_block) {  // straight to the waiter: nobody else can take it between
      handed_ = true;
      idle_.notify_all();
      return;
    }
    if (!again_) {
      busy_ = false;
      idle_.notify_all();
      return;
    }
    again_ = false;
  }
}

Hash256 PrefixHasher::finish() {
  {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return !busy_; });
    busy_ = true;
  }
  struct Release {
    PrefixHasher& h;
    ~Release() {
      std::lock_guard lock(h.mutex_);
      h.busy_ = false;
      h.idle_.notify_all();
    }
  } release{*this};
  const std::uint64_t count = storage_.meta().block_count();
  if (blocks_.verified_prefix() != count)
    throw std::logic_error("whole-file hash before every block is verified");
  try {
    hash_prefix(no_block, {}, false);  // all of it, whoever waits
  } catch (...) {
    broken_ = true;
    throw;
  }
  if (broken_) return storage_.hash_whole();
  broken_ = true;  // finished: sha_ is reset, a second finish() hashes from storage
  return sha_.finish();
}

}  // namespace cascade
