#include "peer/journal.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <cerrno>

namespace cascade {

namespace {
constexpr std::uint64_t min_records_before_compaction = 4096;
}  // namespace

Journal::Identity Journal::identify(const Hash256& cascade_hash, const CascadeFile& meta,
                                    int data_fd) {
  struct stat st {};
  ::fstat(data_fd, &st);
  unsigned int generation = 0;  // the kernel writes an int, whatever the ioctl's number says
  if (::ioctl(data_fd, FS_IOC_GETVERSION, &generation) != 0) generation = 0;
  std::uint64_t birth = 0;
  struct statx sx {};
  if (::statx(data_fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 && (sx.stx_mask & STATX_BTIME))
    birth = static_cast<std::uint64_t>(sx.stx_btime.tv_sec) * 1'000'000'000u + sx.stx_btime.tv_nsec;
  return Identity{cascade_hash,
                  meta.target_size,
                  static_cast<std::uint64_t>(st.st_dev),
                  static_cast<std::uint64_t>(st.st_ino),
                  generation,
                  birth,
                  meta.block_count()};
}

std::optional<std::vector<bool>> Journal::replay(const std::string& path, const Identity& id,
                                                 std::string* why) {
  std::string text;
  try {
    text = read_small_file(path, 1ull << 32);
  } catch (const FileError& e) {
    if (why) *why = e.error == ENOENT ? "" : e.what();
    return std::nullopt;
  }
  return decode_journal({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, id, why);
}

Journal::Journal(std::string path, Identity id, const std::vector<bool>& verified,
                 std::function<void()> sync_data, std::function<void()> after_commit)
    : path_(std::move(path)),
      id_(id),
      sync_data_(std::move(sync_data)),
      after_commit_(std::move(after_commit)),
      durable_(verified) {
  std::lock_guard lock(flush_mutex_);
  // Like a record, the snapshot names only blocks already on the disk: the start-up scan may have
  // found some in the page cache only (a peer killed before its group commit, a file just copied).
  if (std::find(durable_.begin(), durable_.end(), true) != durable_.end()) sync_data_();
  write_snapshot();
}

void Journal::write_snapshot() {
  const Bytes header = encode_journal_header(id_, durable_);
  write_file_replace(path_, header);  // temp file, fsync, rename
  log_ = File(path_, File::Mode::read_write_create);
  log_end_ = header.size();
  records_ = 0;
}

void Journal::add(std::uint64_t block) {
  std::lock_guard lock(add_mutex_);
  queued_.push_back(block);
}

bool Journal::pending() const {
  std::lock_guard lock(add_mutex_);
  return !queued_.empty();
}

metrics::Histogram& Journal::all_commit_latency() {
  static metrics::Histogram all;
  return all;
}

void Journal::flush() {
  std::lock_guard lock(flush_mutex_);
  std::vector<std::uint64_t> batch;
  {
    std::lock_guard add_lock(add_mutex_);
    batch.swap(queued_);
  }
  if (batch.empty() || removed_) return;
  const auto started = std::chrono::steady_clock::now();
  sync_data_();  // the blocks' bytes are durable before any record says so
  Bytes records;
  records.reserve(batch.size() * journal_record_size);
  for (std::uint64_t b : batch) {
    encode_journal_record(id_.cascade_hash, b, records);
    durable_[b] = true;
  }
  log_.write_at(log_end_, records);
  log_.sync_data();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  commit_latency_.observe(took);
  all_commit_latency().observe(took);
  log_end_ += records.size();
  records_ += batch.size();
  if (records_ > std::max<std::uint64_t>(min_records_before_compaction, id_.block_count))
    write_snapshot();
  if (after_commit_) after_commit_();
}

struct Journal::Committer : std::enable_shared_from_this<Committer> {
  Committer(asio::io_context& io, ThreadPool& p, std::function<void(const std::string&)> e,
            std::chrono::milliseconds every)
      : timer(asio::make_strand(io)), pool(p), on_error(std::move(e)), period(every) {}
  asio::steady_timer timer;  // used on its strand only
  ThreadPool& pool;
  const std::function<void(const std::string&)> on_error;
  const std::chrono::milliseconds period;
  std::atomic<bool> queued{false};  // a flush is queued or running on the pool
  std::mutex mutex;                 // held while a flush runs and while the journal detaches
  Journal* journal = nullptr;       // guarded by mutex; null once the journal stopped commits

  void arm() {
    timer.expires_after(period);
    timer.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->tick();
    });
  }
  void tick() {
    bool post = false;
    {
      // A flush holds the mutex for its fdatasyncs: never wait for it on a network thread.
      std::unique_lock lock(mutex, std::try_to_lock);
      if (!lock.owns_lock()) return arm();
      if (journal == nullptr) return;  // stopped
      post = journal->pending() && !queued.exchange(true);
    }
    if (post) {
      pool.post([self = shared_from_this()] {
        std::lock_guard flush_lock(self->mutex);
        if (self->journal != nullptr) {
          try {
            self->journal->flush();
          } catch (const std::exception& e) {
            self->on_error(std::string("journal: ") + e.what());
          }
        }
        self->queued = false;
      });
    }
    arm();
  }
};

void Journal::commit_every(asio::io_context& io, ThreadPool& pool,
                           std::function<void(const std::string&)> on_error,
                           std::chrono::milliseconds period) {
  stop_commits();
  committer_ = std::make_shared<Committer>(io, pool, std::move(on_error), period);
  committer_->journal = this;
  asio::post(committer_->timer.get_executor(), [c = committer_] { c->arm(); });
}

void Journal::stop_commits() {
  if (!committer_) return;
  {
    std::lock_guard lock(committer_->mutex);
    committer_->journal = nullptr;
  }
  asio::post(committer_->timer.get_executor(), [c = committer_] { c->timer.cancel(); });
  committer_.reset();
}

Journal::~Journal() {
  stop_commits();
}

void Journal::remove() {
  std::lock_guard lock(flush_mutex_);
  removed_ = true;
  ::unlink(path_.c_str());
}

}  // namespace cascade
