#include "peer/startup.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/exit.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "peer/create.hpp"

namespace cascade {

std::shared_ptr<SharedFile> load_shared_file(const std::string& cascade_path,
                                             const std::string& data_path,
                                             std::uint64_t max_block_size) {
  LoadedCascade loaded;
  try {
    loaded = load_cascade_file(cascade_path, max_block_size);
  } catch (const CascadeLoadError& e) {
    throw Fatal(ExitCode::usage, e.what());
  }
  return std::make_shared<SharedFile>(cascade_path, data_path, std::move(loaded.file),
                                      loaded.cascade_hash);
}

void open_data_file(SharedFile& f) {
  try {
    f.storage = std::make_unique<Storage>(f.data_path, f.meta);
  } catch (const FileError& e) {
    // A data file that cannot be one (longer than described, a directory, a device) is bad
    // input; anything else (a missing directory, permissions, the disk) a failure.
    const bool bad_input = e.error == EFBIG || e.error == EISDIR || e.error == EINVAL;
    throw Fatal(bad_input ? ExitCode::usage : ExitCode::failure, e.what());
  }
}

std::shared_ptr<SharedFile> open_shared_file(const std::string& cascade_path,
                                             const std::string& data_path,
                                             std::uint64_t max_block_size) {
  auto f = load_shared_file(cascade_path, data_path, max_block_size);
  open_data_file(*f);
  return f;
}

void find_present_blocks(SharedFile& f, ThreadPool& pool, bool verify_all,
                         const std::atomic<bool>* stop) {
  try {
    const auto t0 = net::Clock::now();
    const std::string journal_path = Journal::path_for(f.data_path);
    const auto id = Journal::identify(f.cascade_hash, f.meta, f.storage->fd());
    // Blocks the journal proves durable and verified count without hashing; the rest are hashed.
    std::vector<bool> known;
    std::uint64_t from_journal = 0;
    if (!verify_all) {
      std::string why;
      auto replayed = Journal::replay(journal_path, id, &why);
      if (replayed) {
        const std::uint64_t size = f.storage->current_size();
        for (std::uint64_t b = 0; b < replayed->size(); ++b)
          if ((*replayed)[b] && f.meta.block_offset(b) + f.meta.block_length(b) > size)
            (*replayed)[b] = false;
        known = std::move(*replayed);
        from_journal = static_cast<std::uint64_t>(std::count(known.begin(), known.end(), true));
      } else if (!why.empty()) {
        log::warn(journal_path, ": ignored: ", why);
      }
    }
    const std::vector<bool> present = f.storage->scan(pool, known, stop);
    for (std::uint64_t b = 0; b < present.size(); ++b)
      if (present[b]) f.blocks.set_verified(b);
    log::info(f.data_path, ": ", f.blocks.verified_count(), " of ", f.meta.block_count(),
              " blocks present (", from_journal, " from the journal; checked in ",
              std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::now() - t0).count(),
              " ms)");
    if (f.blocks.complete()) {
      ::unlink(journal_path.c_str());
      return;
    }
    if (const auto& why = f.storage->read_only())
      throw Fatal(ExitCode::failure,
                  f.data_path + ": cannot open it for writing (" + *why + "), and " +
                      std::to_string(f.meta.block_count() - f.blocks.verified_count()) + " of " +
                      std::to_string(f.meta.block_count()) +
                      " blocks are missing: only a complete file is shared read-only");
    try {
      Storage* storage = f.storage.get();
      f.journal = std::make_unique<Journal>(
          journal_path, id, f.blocks.snapshot(), [storage] { storage->sync(); },
          [storage] { storage->drop_behind(); });
    } catch (const std::exception& e) {
      log::warn(journal_path, ": cannot keep a journal (", e.what(), "); a restart will rehash");
    }
  } catch (const Fatal&) {
    throw;
  } catch (const std::exception& e) {
    throw Fatal(ExitCode::failure, e.what());
  }
}

}  // namespace cascade
