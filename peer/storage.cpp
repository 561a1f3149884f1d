#include "peer/storage.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>

#include "common/sha256.hpp"
#include "common/system.hpp"

namespace cascade {

namespace {
// Bytes read and hashed at a time: small enough to stay in the L2 cache between the copy out of
// the page cache and the hash, large enough to keep system calls rare.
constexpr std::size_t read_chunk_size = 128 * 1024;
}  // namespace

namespace {
File open_data_file(const std::string& path, std::optional<std::string>& read_only) {
  try {
    return File(path, File::Mode::read_write_create);
  } catch (const FileError& e) {
    if (e.error != EACCES && e.error != EROFS && e.error != EPERM) throw;
    try {
      File f(path, File::Mode::read);
      read_only = std::strerror(e.error);
      return f;
    } catch (const FileError&) {
      throw e;  // not even readable (or not there): the first reason is the one to give
    }
  }
}
}  // namespace

Storage::Storage(const std::string& path, const CascadeFile& meta)
    : file_(open_data_file(path, read_only_)), meta_(meta) {
  const std::uint64_t size = file_.size();
  if (size > meta.target_size)
    throw FileError(path + ": data file is " + std::to_string(size) + " bytes, longer than the " +
                        std::to_string(meta.target_size) + " its cascade file describes",
                    EFBIG);
  if (size == 0 && meta.target_size > 0 && !read_only_) reserve();
}

void Storage::reserve() {
  // Only where it is measured to help and is done in the file system's metadata alone: not on
  // tmpfs (zeroed pages up front), file systems that emulate it by writing zeros, or compressing
  // ones (btrfs leaves preallocated extents uncompressed).
  struct statfs fs {};
  if (::fstatfs(file_.fd(), &fs) != 0 ||
      (fs.f_type != EXT4_SUPER_MAGIC && fs.f_type != XFS_SUPER_MAGIC))
    return;
  // Never the disk's last free blocks: a reservation that fails part way keeps what it got until
  // it is given back, and meanwhile the other writers to the disk would find it full. A file
  // that does not fit is downloaded as before, and a full disk is the write's error then.
  struct statvfs room {};
  if (::fstatvfs(file_.fd(), &room) != 0 ||
      static_cast<unsigned __int128>(room.f_bavail) * room.f_frsize <
          static_cast<unsigned __int128>(meta_.target_size) * 2)
    return;
  if (::fallocate(file_.fd(), FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(meta_.target_size)) == 0)
    return;
  // Failed (the disk filled meanwhile, a quota): what it did reserve is given back, by a
  // truncation to the file's size now (another program may have written to it), which frees the
  // blocks past it. Best effort: the download goes on either way.
  struct stat st {};
  if (::fstat(file_.fd(), &st) == 0 && ::ftruncate(file_.fd(), st.st_size) != 0) {
    // nothing more to do: the blocks come back when the file is written or removed
  }
}

bool Storage::block_matches(std::uint64_t index, std::span<const std::uint8_t> data,
                            const std::optional<Hash256>& digest) const {
  return data.size() == meta_.block_length(index) &&
         (digest ? *digest : sha256(data)) == meta_.block_hashes[index];
}

std::vector<bool> Storage::scan(ThreadPool& pool, std::vector<bool> known,
                                const std::atomic<bool>* stop) const {
  const std::uint64_t size = file_.size();
  const std::uint64_t count = meta_.block_count();
  known.resize(count, false);
  std::vector<char> ok(known.begin(), known.end());
  std::atomic<std::uint64_t> next{0};
  // One job per worker; each takes the next block number until none is left.
  auto stopped = [stop] { return early_stop_signal() != 0 || (stop && stop->load()); };
  auto job = [&] {
    Sha256 h;
    for (std::uint64_t b = next++; b < count && !stopped(); b = next++) {
      const std::uint64_t off = meta_.block_offset(b), len = meta_.block_length(b);
      if (ok[b] || off + len > size) continue;
      hash_range(h, off, len);
      ok[b] = h.finish() == meta_.block_hashes[b];
    }
  };
  std::vector<std::future<void>> jobs;
  for (std::size_t i = 0; i < pool.size(); ++i) jobs.push_back(pool.submit(job));
  for (auto& j : jobs) j.wait();
  for (auto& j : jobs) j.get();  // rethrow a read error
  // A stop asked for while the process starts (or the file is checked again): what was not
  // hashed is unknown, not missing.
  if (stopped()) throw StopRequested{early_stop_signal()};
  return std::vector<bool>(ok.begin(), ok.end());
}

void Storage::write_block(std::uint64_t index, std::span<const std::uint8_t> data) {
  std::lock_guard lock(write_mutex_);
  // Fault injection for tests: CASCADE_FAIL_WRITES_AFTER=N makes every write after the N-th fail
  // as a full disk would (no tmpfs or loop device needed).
  static const long fail_after = [] {
    const char* v = std::getenv("CASCADE_FAIL_WRITES_AFTER");
    return v ? std::atol(v) : -1;
  }();
  if (fail_after >= 0 && writes_++ >= static_cast<std::uint64_t>(fail_after))
    throw FileError(path() + ": write failed: No space left on device", ENOSPC);
  const std::uint64_t offset = meta_.block_offset(index);
  file_.write_at(offset, data);
  // Start writing the block to the disk now, without waiting: the group commit's fdatasync then
  // finds little left to flush, and dirty pages never pile up to where the kernel throttles us.
  // Not O_DIRECT: tried from page-aligned block buffers (ext4, 1 GiB, W1 of swarm_bench, 3 runs
  // against this path in the same run, five variants), it took 1.5-1.7 x as long for about the
  // same leecher CPU time (1.96-2.27 s against 1.96-2.14 s). Each 1 MiB write waited about 2.1 ms
  // for the device, and a connection's two check jobs waited in turn; pre-sizing the file
  // (ftruncate or fallocate), writing without the mutex and more threads changed neither. It
  // could only pay with writes queued off the hashing threads, and even then saves no CPU here.
  ::sync_file_range(file_.fd(), static_cast<off64_t>(offset), static_cast<off64_t>(data.size()),
                    SYNC_FILE_RANGE_WRITE);
}

namespace {
// cachestat(2) (Linux 6.5), not in this system's headers yet.
struct CachestatRange {
  std::uint64_t off, len;
};
struct Cachestat {
  std::uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
#if defined(__x86_64__) || defined(__aarch64__)
constexpr long sys_cachestat = 451;
#else
constexpr long sys_cachestat = -1;
#endif
std::atomic<bool> cachestat_works{sys_cachestat > 0};  // until a call says otherwise
long cachestat(int fd, std::uint64_t offset, std::uint64_t length, Cachestat& stat) {
  CachestatRange range{offset, length};
  return ::syscall(sys_cachestat, fd, &range, &stat, 0);
}

std::uint64_t page_size() {
  static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

std::vector<std::uint8_t>& chunk_buffer() {  // one per thread
  thread_local std::vector<std::uint8_t> buf(read_chunk_size);
  return buf;
}

// Reads [offset, offset + length) of `file` in cache-sized chunks into the thread's buffer,
// handing each chunk to `use`; throws FileError as File::read_at does.
template <class Use>
void each_chunk(const File& file, std::uint64_t offset, std::uint64_t length, Use use) {
  std::vector<std::uint8_t>& buf = chunk_buffer();
  for (std::uint64_t done = 0; done < length;) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - done));
    file.read_at(offset + done, {buf.data(), n});
    use(ByteSpan(buf.data(), n));
    done += n;
  }
}

void raise_to(std::atomic<std::uint64_t>& value, std::uint64_t to) {
  std::uint64_t seen = value.load();
  while (seen < to && !value.compare_exchange_weak(seen, to)) {
  }
}
}  // namespace

void Storage::sync() {
  const std::uint64_t hashed = done_below_.load();  // all written before the fdatasync starts
  file_.sync_data();
  raise_to(durable_below_, hashed);
}

void Storage::done_with_below(std::uint64_t offset) {
  raise_to(done_below_, offset);
}

void Storage::drop_behind() {
  if (keep_cache_) return;
  const std::uint64_t page = page_size();
  std::lock_guard lock(drop_mutex_);
  std::uint64_t end = durable_below_.load();
  const bool to_the_end = end >= meta_.target_size;
  if (!to_the_end) end -= end % page;  // the kernel evicts whole pages only
  const std::uint64_t from = dropped_below_.load();
  if (end <= from) return;
  // Advice only: a failure changes nothing but the memory used. A length of 0 runs to the end
  // of the file, its last (partial) page included.
  ::posix_fadvise(file_.fd(), static_cast<off_t>(from),
                  to_the_end ? 0 : static_cast<off_t>(end - from), POSIX_FADV_DONTNEED);
  dropped_below_.store(end);
}

bool Storage::cached(std::uint64_t offset, std::uint64_t length) const {
  if (!cachestat_works.load(std::memory_order_relaxed) || length == 0) return true;
  Cachestat stat{};
  if (cachestat(file_.fd(), offset, length, stat) != 0) {
    // An older kernel, or a seccomp filter that forbids it: assume cached, as before.
    if (errno == ENOSYS || errno == EPERM) cachestat_works = false;
    return true;
  }
  const std::uint64_t page = page_size();
  const std::uint64_t pages = (offset + length + page - 1) / page - offset / page;
  return stat.nr_cache >= pages;
}

bool Storage::can_tell_cached() {
  if (!cachestat_works.load()) return false;
  Cachestat stat{};
  const int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const long r = cachestat(fd, 0, 1, stat);
  ::close(fd);
  return r == 0;
}

void Storage::warm(std::uint64_t offset, std::uint64_t length) const {
  try {
    each_chunk(file_, offset, length, [](ByteSpan) {});
  } catch (const FileError&) {  // left to the send that follows
  }
}

void Storage::hash_range(Sha256& h, std::uint64_t offset, std::uint64_t length) const {
  each_chunk(file_, offset, length, [&h](ByteSpan chunk) { h.update(chunk); });
}

Hash256 Storage::hash_whole() const {
  Sha256 h;
  hash_range(h, 0, meta_.target_size);
  return h.finish();
}

}  // namespace cascade
