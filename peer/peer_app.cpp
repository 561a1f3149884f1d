#include "peer/peer_app.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "common/file.hpp"
#include "common/hex.hpp"
#include "common/log.hpp"
#include "common/sha256.hpp"
#include "common/system.hpp"
#include "common/units.hpp"
#include "peer/block_server.hpp"
#include "peer/create.hpp"

namespace cascade {

namespace {

struct StartError {
  int code;
  std::string message;
};

std::shared_ptr<SharedFile> open_file(const std::string& cascade_path, const std::string& data_path,
                                      std::uint64_t max_block_size) {
  LoadedCascade loaded;
  try {
    loaded = load_cascade_file(cascade_path, max_block_size);
  } catch (const CascadeLoadError& e) {
    throw StartError{2, e.what()};
  }
  auto f = std::make_shared<SharedFile>(cascade_path, data_path, std::move(loaded.file), loaded.cascade_hash);
  try {
    f->storage = std::make_unique<Storage>(data_path, f->meta);
  } catch (const FileError& e) {
    throw StartError{e.error == EFBIG ? 2 : 1, e.what()};
  }
  return f;
}

std::string short_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Progress: one live line per file on a terminal, else a log line per file at most once a second.
class Progress {
 public:
  Progress(const std::vector<std::shared_ptr<SharedFile>>& files, bool quiet)
      : files_(files), tty_(::isatty(STDERR_FILENO) == 1), quiet_(quiet), last_(files.size(), 0),
        last_time_(net::Clock::now()) {}

  void tick(bool final = false) {
    if (quiet_) return;
    const auto now = net::Clock::now();
    const double dt = std::max(1e-3, std::chrono::duration<double>(now - last_time_).count());
    std::string out;
    for (std::size_t i = 0; i < files_.size(); ++i) {
      const SharedFile& f = *files_[i];
      const std::uint64_t have = f.blocks.verified_count(), total = f.meta.block_count();
      const double pct = total ? 100.0 * static_cast<double>(have) / static_cast<double>(total) : 100.0;
      const std::uint64_t bytes = f.bytes_downloaded.load();
      const double rate = static_cast<double>(bytes - last_[i]) / dt;
      last_[i] = bytes;
      const std::uint64_t left_bytes = f.meta.target_size - std::min(f.meta.target_size, have * f.meta.block_size);
      char line[256];
      std::snprintf(line, sizeof line, "%-24.24s %6.1f%% %8.1f MB/s  ETA %5s  peers %2d  served %llu blocks%s",
                    short_name(f.data_path).c_str(), pct, rate / 1e6,
                    rate > 0 && left_bytes ? (std::to_string(static_cast<long>(left_bytes / rate)) + "s").c_str()
                                           : (f.complete ? "done" : "-"),
                    f.active_sources.load(), static_cast<unsigned long long>(f.blocks_served.load()),
                    f.complete ? "  verified" : "");
      if (tty_) {
        out += "\r\x1b[2K";
        out += line;
        out += i + 1 < files_.size() ? "\n" : "";
      } else if (final || !f.complete || !reported_complete_.contains(i)) {
        log::info(line);
        if (f.complete) reported_complete_.insert(i);
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
  bool tty() const { return tty_; }

 private:
  const std::vector<std::shared_ptr<SharedFile>>& files_;
  bool tty_, quiet_;
  std::vector<std::uint64_t> last_;
  std::set<std::size_t> reported_complete_;
  net::Clock::time_point last_time_;
};

void write_stats(const std::string& path, const std::vector<std::shared_ptr<SharedFile>>& files, double seconds) {
  nlohmann::json j;
  j["seconds"] = seconds;
  for (const auto& f : files) {
    nlohmann::json sources = nlohmann::json::object();
    for (const auto& [src, n] : f->sources()) sources[src] = n;
    j["files"].push_back({{"cascade", f->cascade_path},
                          {"data", f->data_path},
                          {"complete", f->complete.load()},
                          {"blocks", f->meta.block_count()},
                          {"verified_blocks", f->blocks.verified_count()},
                          {"bytes_downloaded", f->bytes_downloaded.load()},
                          {"blocks_served", f->blocks_served.load()},
                          {"bytes_served", f->bytes_served.load()},
                          {"bad_blocks", f->bad_blocks.load()},
                          {"blocks_from", sources}});
  }
  const std::string text = j.dump(2) + "\n";
  try {
    write_file_replace(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, /*durable=*/false);
  } catch (const std::exception& e) {
    log::warn("cannot write statistics: ", e.what());
  }
}

}  // namespace

int run_peer(RunOptions o) {
  const auto started = net::Clock::now();
  // ---- Arguments ----
  if (!o.data_paths.empty() && o.data_paths.size() != o.cascade_paths.size()) {
    std::fprintf(stderr, "cascade-peer: -o names %zu data files for %zu cascade files\n", o.data_paths.size(),
                 o.cascade_paths.size());
    return 2;
  }
  auto self = parse_endpoint(o.self, /*allow_zero_port=*/true);
  if (!self) {
    std::fprintf(stderr, "cascade-peer: SELF must be IPv4:port, got \"%s\"\n", o.self.c_str());
    return 2;
  }
  const auto colon = o.tracker.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == o.tracker.size()) {
    std::fprintf(stderr, "cascade-peer: TRACKER must be host:port, got \"%s\"\n", o.tracker.c_str());
    return 2;
  }
  o.download.tracker_host = o.tracker.substr(0, colon);
  o.download.tracker_port = o.tracker.substr(colon + 1);
  o.download.client_only = o.client_only;
  const std::size_t threads = o.threads ? o.threads : usable_cores();
  raise_fd_limit();

  // ---- Files: parse, open without truncating, find the blocks already present ----
  std::vector<std::shared_ptr<SharedFile>> files;
  try {
    for (std::size_t i = 0; i < o.cascade_paths.size(); ++i) {
      const std::string data = o.data_paths.empty() ? default_data_path(o.cascade_paths[i]) : o.data_paths[i];
      files.push_back(open_file(o.cascade_paths[i], data, o.max_block_size));
      for (std::size_t k = 0; k + 1 < files.size(); ++k)
        if (files[k]->cascade_hash == files.back()->cascade_hash)
          throw StartError{2, o.cascade_paths[i] + ": the same cascade file is given twice"};
    }
  } catch (const StartError& e) {
    std::fprintf(stderr, "cascade-peer: %s\n", e.message.c_str());
    return e.code;
  }
  // Declared before the io_context's users and destroyed after them: pool jobs may reference
  // coroutine frames, so the pool drains (in its destructor) before the io_context goes.
  asio::io_context io;
  ThreadPool pool(threads);
  try {
    for (auto& f : files) {
      const auto t0 = net::Clock::now();
      const std::string journal_path = Journal::path_for(f->data_path);
      const auto id = Journal::identify(f->cascade_hash, f->meta, f->storage->fd());
      // Blocks the journal proves durable and verified count without hashing; the rest are hashed.
      std::vector<bool> known;
      std::uint64_t from_journal = 0;
      if (!o.verify_all) {
        std::string why;
        auto replayed = Journal::replay(journal_path, id, &why);
        if (replayed) {
          const std::uint64_t size = f->storage->current_size();
          for (std::uint64_t b = 0; b < replayed->size(); ++b)
            if ((*replayed)[b] && f->meta.block_offset(b) + f->meta.block_length(b) > size) (*replayed)[b] = false;
          known = std::move(*replayed);
          from_journal = static_cast<std::uint64_t>(std::count(known.begin(), known.end(), true));
        } else if (!why.empty()) {
          log::warn(journal_path, ": ignored: ", why);
        }
      }
      const std::vector<bool> present = f->storage->scan(pool, known);
      for (std::uint64_t b = 0; b < present.size(); ++b)
        if (present[b]) f->blocks.set_verified(b);
      log::info(f->data_path, ": ", f->blocks.verified_count(), " of ", f->meta.block_count(),
                " blocks present (", from_journal, " from the journal; checked in ",
                std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::now() - t0).count(), " ms)");
      if (f->blocks.complete()) {
        ::unlink(journal_path.c_str());
      } else {
        try {
          Storage* storage = f->storage.get();
          f->journal = std::make_unique<Journal>(journal_path, id, f->blocks.snapshot(), [storage] { storage->sync(); });
        } catch (const std::exception& e) {
          log::warn(journal_path, ": cannot keep a journal (", e.what(), "); a restart will rehash");
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cascade-peer: %s\n", e.what());
    return 1;
  }

  // ---- Network ----
  std::atomic<int> exit_code{0};
  std::unique_ptr<BlockServer> server;
  if (!o.client_only) {
    server = std::make_unique<BlockServer>(io, pool, files, BlockServer::Options{o.max_connections, o.max_connections_per_ip});
    try {
      const std::string address = o.listen.empty() ? format_ipv4(self->ip) : o.listen;
      self->port = server->start(address, self->port);
      log::info("serving ", files.size(), " file(s) on ", address, ":", self->port, ", reporting ", to_string(*self));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cascade-peer: %s\n", e.what());
      return 1;
    }
    if (!o.port_file.empty()) {
      const std::string text = std::to_string(self->port) + "\n";
      write_file_replace(o.port_file, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
    }
  }
  o.download.self = *self;

  std::vector<std::unique_ptr<Downloader>> downloaders;
  std::atomic<bool> stopping{false};
  auto shutdown = [&](int code) {
    int expected = 0;
    if (code != 0) exit_code.compare_exchange_strong(expected, code);
    if (stopping.exchange(true)) return;
    asio::post(io, [&] {
      if (server) server->stop();
      for (auto& d : downloaders) d->stop();
      io.stop();
    });
  };
  auto on_fatal = [&](int code, const std::string& message) {
    log::error(message);
    shutdown(code);
  };
  for (auto& f : files) {
    downloaders.push_back(std::make_unique<Downloader>(io, pool, f, o.download, on_fatal));
    downloaders.back()->start();
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    log::info("signal ", sig, ": stopping (a second signal exits at once)");
    signals.async_wait([](std::error_code ec2, int) {
      if (!ec2) std::_Exit(1);
    });
    shutdown(0);
  });

  // Every 50 ms: is a client-only run finished? Progress every 250 ms on a terminal, else 1 s.
  Progress progress(files, o.quiet);
  asio::steady_timer ticker(io);
  const auto print_every = progress.tty() ? std::chrono::milliseconds(250) : std::chrono::milliseconds(1000);
  auto last_print = net::Clock::now(), last_stats = last_print;
  std::function<void()> tick = [&] {
    ticker.expires_after(std::chrono::milliseconds(50));
    ticker.async_wait([&](std::error_code ec) {
      if (ec || stopping) return;
      const bool all = std::all_of(files.begin(), files.end(), [](const auto& f) { return f->complete.load(); });
      if (all && (o.client_only || o.exit_when_done)) return shutdown(0);
      // Group commit: one journal flush per file at a time, on the pool.
      for (auto& f : files) {
        if (!f->journal || !f->journal->pending() || f->journal_busy.exchange(true)) continue;
        pool.post([f, &on_fatal] {
          try {
            f->journal->flush();
          } catch (const std::exception& e) {
            on_fatal(1, std::string("journal: ") + e.what());
          }
          f->journal_busy = false;
        });
      }
      const auto now = net::Clock::now();
      if (now - last_print >= print_every) {
        progress.tick();
        last_print = now;
      }
      if (!o.stats_json.empty() && now - last_stats >= std::chrono::milliseconds(200)) {
        write_stats(o.stats_json, files, std::chrono::duration<double>(now - started).count());
        last_stats = now;
      }
      tick();
    });
  };
  tick();
  net::run_threads(io, threads);
  pool.stop();
  for (auto& f : files) {  // what was verified before the stop is durable before we exit
    if (!f->journal || f->complete) continue;
    try {
      f->journal->flush();
    } catch (const std::exception& e) {
      log::warn("journal: ", e.what());
    }
  }

  progress.tick(true);
  const double seconds = std::chrono::duration<double>(net::Clock::now() - started).count();
  for (const auto& f : files) {
    std::string from;
    for (const auto& [src, n] : f->sources()) from += " " + src + "=" + std::to_string(n);
    log::info(f->data_path, ": ", f->complete ? "complete" : "incomplete", ", ", f->blocks.verified_count(), "/",
              f->meta.block_count(), " blocks, downloaded ", format_size(f->bytes_downloaded), ", served ",
              f->blocks_served.load(), " blocks", from.empty() ? "" : ", blocks from:", from);
  }
  if (!o.stats_json.empty()) write_stats(o.stats_json, files, seconds);
  return exit_code;
}

}  // namespace cascade
