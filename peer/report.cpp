#include "peer/report.hpp"

#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/file.hpp"
#include "common/hex.hpp"
#include "common/log.hpp"

namespace cascade {

std::string short_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Progress: one live line per file on a terminal, else a log line per file at most once a second.
Progress::Progress(bool quiet)
    : tty_(::isatty(STDERR_FILENO) == 1), quiet_(quiet), last_time_(net::Clock::now()) {}

void Progress::tick(const std::vector<std::shared_ptr<SharedFile>>& files_, bool final) {
  if (quiet_) return;
  const auto now = net::Clock::now();
  const double dt = std::max(1e-3, std::chrono::duration<double>(now - last_time_).count());
  std::string out;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    const SharedFile& f = *files_[i];
    const std::uint64_t have = f.blocks.verified_count(), total = f.meta.block_count();
    const double pct =
        total ? 100.0 * static_cast<double>(have) / static_cast<double>(total) : 100.0;
    const std::uint64_t bytes = f.stats.bytes_downloaded.load();
    std::uint64_t& last = last_[f.cascade_path];
    const double rate = static_cast<double>(bytes - std::min(bytes, last)) / dt;
    last = bytes;
    const std::uint64_t left_bytes =
        f.meta.target_size - std::min(f.meta.target_size, have * f.meta.block_size);
    char line[256];
    std::snprintf(line, sizeof line,
                  "%-24.24s %6.1f%% %8.1f MB/s  ETA %5s  peers %2d  served %llu blocks%s",
                  short_name(f.data_path).c_str(), pct, rate / 1e6,
                  rate > 0 && left_bytes
                      ? (std::to_string(static_cast<long>(left_bytes / rate)) + "s").c_str()
                      : (f.complete ? "done" : "-"),
                  f.stats.active_sources.load(),
                  static_cast<unsigned long long>(f.stats.blocks_served.load()),
                  f.complete ? "  verified" : "");
    if (tty_) {
      out += "\r\x1b[2K";
      out += line;
      out += i + 1 < files_.size() ? "\n" : "";
    } else if (final || !f.complete || !reported_complete_.contains(f.cascade_path)) {
      log::info(line);
      if (f.complete) reported_complete_.insert(f.cascade_path);
    }
  }
  if (tty_) {
    if (files_.size() > 1 && !final) out += "\x1b[" + std::to_string(files_.size() - 1) + "A";
    if (final) out += "\n";
    std::fputs(out.c_str(), stderr);
    std::fflush(stderr);
  }
  last_time_ = now;
}

namespace {
// Which blocks are verified, as hex: block i is bit 7 - i % 8 of byte i / 8 (the first block is
// the high bit of the first byte). Only for files of up to max_map_blocks blocks (8 KiB of text).
constexpr std::uint64_t max_map_blocks = 32768;
std::string verified_map(const BlockMap& blocks) {
  const std::vector<bool> v = blocks.snapshot();
  std::vector<std::uint8_t> bytes((v.size() + 7) / 8, 0);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i]) bytes[i / 8] |= static_cast<std::uint8_t>(0x80 >> (i % 8));
  return to_hex(bytes);
}
}  // namespace

void write_stats(const std::string& path, const std::vector<std::shared_ptr<SharedFile>>& files,
                 double seconds) {
  nlohmann::json j;
  j["seconds"] = seconds;
  for (const auto& f : files) {
    nlohmann::json sources = nlohmann::json::object();
    for (const auto& [src, n] : f->stats.sources()) sources[src] = n.blocks;
    j["files"].push_back(
        {{"cascade", f->cascade_path},
         {"data", f->data_path},
         {"complete", f->complete.load()},
         {"blocks", f->meta.block_count()},
         {"verified_blocks", f->blocks.verified_count()},
         {"bytes_downloaded", f->stats.bytes_downloaded.load()},
         {"blocks_served", f->stats.blocks_served.load()},
         {"bytes_served", f->stats.bytes_served.load()},
         {"bad_blocks", f->stats.bad_blocks.load()},
         {"verified_map",
          f->meta.block_count() <= max_map_blocks ? verified_map(f->blocks) : std::string()},
         {"complete_seconds", f->stats.complete_seconds.load()},
         {"asked_elsewhere", f->stats.asked_elsewhere.load()},
         {"first_copy_unsent", f->first_copies ? f->first_copies->unsent() : std::uint64_t{0}},
         {"blocks_from", sources}});
  }
  const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // Written five times a second: a failure is said once, and again only when it changes (or
  // once the file could be written in between).
  static std::mutex mutex;
  static std::string last_failure;
  std::string failure;
  try {
    write_file_replace(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                       /*durable=*/false);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  std::lock_guard lock(mutex);
  if (!failure.empty() && failure != last_failure)
    log::warn("cannot write statistics: ", failure, " (said once until it changes)");
  last_failure = failure;
}

}  // namespace cascade
