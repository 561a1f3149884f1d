// A redo log of verified blocks, kept next to a data file (DATA.cascade-journal), so that a
// restarted peer does not hash again what it already proved.
//
// Design, as journalling file systems do it: after verified blocks are written, the data file is
// made durable (fdatasync), then one record per block is appended and the journal is made durable.
// Many blocks share each pair of syncs (group commit). Records are idempotent, so replaying one
// twice is harmless. The journal opens with a header naming the cascade hash, the target size and
// the data file's identity (device, inode, and the inode's generation and birth time: file
// systems hand a deleted file's inode number to the next file created, so the number alone
// cannot tell a replaced data file, nor can the birth time, on a clock that ticks in
// milliseconds, when the new file comes at once),
// and a snapshot bitmap; replay takes the snapshot, then the records up to the first torn or
// corrupt one. A journal for another file, or a data file replaced behind its back, is ignored.
// The snapshot obeys the records' rule: a new journal syncs the data file before it names any
// block (blocks the start-up scan found may be in the page cache only). Compaction writes a fresh
// snapshot (temp file, fsync, rename) and starts an empty log.
//
// The bytes: peer/journal_format.hpp.
//
// Group commit: commit_every() starts the journal's own timer, which queues one flush at a time on
// the worker pool whenever blocks were added (the journal knows whether a flush is already
// queued or running). The app only starts it.
//
// Thread-safety: add() from any thread; flush(), compact() and remove() are serialised inside.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "common/metrics.hpp"
#include "common/thread_pool.hpp"
#include "peer/journal_format.hpp"
#include "proto/cascade_file.hpp"

namespace asio {
class io_context;
}

namespace cascade {

class Journal {
 public:
  using Identity = JournalIdentity;
  static Identity identify(const Hash256& cascade_hash, const CascadeFile& meta, int data_fd);
  static std::string path_for(const std::string& data_path) {
    return data_path + ".cascade-journal";
  }

  // Replays an existing journal: the blocks it proves verified, or nullopt when there is none or
  // it belongs to another file (with `why` set to the reason for ignoring it).
  static std::optional<std::vector<bool>> replay(const std::string& path, const Identity& id,
                                                 std::string* why);

  // Starts a fresh journal whose snapshot is `verified` (compaction on start-up).
  // `sync_data` makes the data file durable (fdatasync); it runs before records are written, and
  // here before a snapshot that names any block is.
  // `after_commit` (optional) runs once a batch's records are durable too (drop_behind).
  Journal(std::string path, Identity id, const std::vector<bool>& verified,
          std::function<void()> sync_data, std::function<void()> after_commit = {});
  ~Journal();  // stops the group commit, waiting for a flush that is running
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Starts the group commit: every `period`, if blocks were added and no flush is queued or
  // running, one flush is queued on `pool`. A flush that fails calls on_error(message) on the
  // pool thread. Runs until the Journal goes, stop_commits(), or `io` stops.
  static constexpr std::chrono::milliseconds commit_period{50};
  void commit_every(asio::io_context& io, ThreadPool& pool,
                    std::function<void(const std::string&)> on_error,
                    std::chrono::milliseconds period = commit_period);
  void stop_commits();

  void add(std::uint64_t block);
  // Makes every block added so far durable: fdatasync(data), append records, fdatasync(journal).
  // Compacts when the log has grown past its limit. Throws FileError.
  void flush();
  bool pending() const;
  // Flushes that wrote records, and how long each took (data sync to journal sync): this
  // journal's, and those of every journal of the process (a metric that never goes down when a
  // file leaves a shared directory).
  const metrics::Histogram& commit_latency() const { return commit_latency_; }
  static metrics::Histogram& all_commit_latency();
  // Deletes the journal (the file is complete and verified as a whole).
  void remove();

 private:
  struct Committer;  // the group-commit timer; lives in journal.cpp (Asio stays out of here)
  std::shared_ptr<Committer> committer_;
  void write_snapshot();  // guarded by flush_mutex_

  std::string path_;
  Identity id_;
  std::function<void()> sync_data_;
  std::function<void()> after_commit_;
  metrics::Histogram commit_latency_;
  mutable std::mutex add_mutex_;
  std::vector<std::uint64_t> queued_;  // guarded by add_mutex_
  std::mutex flush_mutex_;
  File log_;                   // guarded by flush_mutex_
  std::vector<bool> durable_;  // guarded by flush_mutex_
  std::uint64_t log_end_ = 0;  // guarded by flush_mutex_; append offset
  std::uint64_t records_ = 0;  // guarded by flush_mutex_; records since the snapshot
  bool removed_ = false;       // guarded by flush_mutex_
};

}  // namespace cascade
