#include "peer/peer_app.hpp"

#include <sys/stat.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <functional>
#include <optional>

#include "common/endpoint.hpp"
#include "common/file.hpp"
#include "common/hex.hpp"
#include "common/log.hpp"
#include "common/system.hpp"
#include "common/units.hpp"
#include "peer/create.hpp"
#include "peer/dir_watch.hpp"
#include "peer/events.hpp"
#include "peer/file_set.hpp"
#include "peer/report.hpp"
#include "peer/startup.hpp"
#include "peer/status.hpp"

namespace cascade {

namespace {

using namespace std::chrono_literals;
// The statistics file is rewritten this often (scripts poll it).
constexpr auto stats_period = 200ms;
// The progress display refreshes this often on a terminal, and logs this often otherwise.
constexpr auto progress_period_tty = 250ms;
constexpr auto progress_period_log = 1000ms;
// The report timer's period: the shortest of the above.
constexpr auto report_tick = 50ms;

void check_arguments(RunOptions& o) {
  if (!o.data_paths.empty() && o.data_paths.size() != o.cascade_paths.size())
    throw Fatal(ExitCode::usage, "-o names " + std::to_string(o.data_paths.size()) +
                                     " data files for " + std::to_string(o.cascade_paths.size()) +
                                     " cascade files");
  auto self = parse_endpoint(o.self, /*allow_zero_port=*/true);
  if (!self) throw Fatal(ExitCode::usage, "SELF must be IPv4:port, got \"" + o.self + "\"");
  o.download.self = *self;
  if (self->ip == 0 && !o.client_only)
    throw Fatal(ExitCode::usage,
                "SELF is the address other peers reach this one at, not 0.0.0.0 (to listen on "
                "every address, add --listen 0.0.0.0)");
  if (!o.listen.empty() && !parse_ipv4(o.listen))
    throw Fatal(ExitCode::usage,
                "--listen must be an IPv4 address (the port is SELF's), got \"" + o.listen + "\"");
  o.download.trackers.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = o.tracker.find(',', start);
    const std::string one =
        o.tracker.substr(start, comma == std::string::npos ? comma : comma - start);
    const auto colon = one.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == one.size())
      throw Fatal(
          ExitCode::usage,
          "TRACKER must be host:port (or several, comma-separated), got \"" + o.tracker + "\"");
    const std::string port = one.substr(colon + 1);
    if (!parse_port(port))
      throw Fatal(ExitCode::usage,
                  "TRACKER's port must be 1 to 65535, got \"" + port + "\" in \"" + one + "\"");
    o.download.trackers.push_back({one.substr(0, colon), port});
    for (std::size_t k = 0; k + 1 < o.download.trackers.size(); ++k)
      if (o.download.trackers[k].host == o.download.trackers.back().host &&
          o.download.trackers[k].port == o.download.trackers.back().port)
        throw Fatal(ExitCode::usage, "TRACKER names " + one + " twice");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  o.download.client_only = o.client_only;
  if (o.client_only && (o.seed_time || o.seed_ratio))
    throw Fatal(ExitCode::usage, "--seed-time and --seed-ratio need serving: not with -c");
  if (!o.http.empty() && !parse_endpoint(o.http, /*allow_zero_port=*/true))
    throw Fatal(ExitCode::usage, "--http must be IPv4:port, got \"" + o.http + "\"");
}

// Why `data` cannot be the data file of `cascade` beside the files shared already (and the cascade
// files still to come), if it cannot: it would overwrite a cascade file or a journal, or mix two
// files' blocks. `derived`: the data path is the cascade path without its extension, so one still
// ending in .cascade or .cascade-journal names a file of ours (X.cascade.cascade).
std::optional<std::string> data_file_clash(const std::string& cascade, const std::string& data,
                                           const std::vector<std::shared_ptr<SharedFile>>& shared,
                                           const std::vector<std::string>& cascades, bool derived) {
  auto is_cascade = [&](const std::string& c) {
    return "its data file " + data + " is a cascade file" + (c == data ? "" : " (" + c + ")");
  };
  if (derived && (data.ends_with(".cascade") || data.ends_with(".cascade-journal")))
    return "its data file " + data + " would be a cascade file or a journal";
  for (const auto& c : cascades)
    if (same_file(data, c)) return is_cascade(c);
  for (const auto& f : shared) {
    if (same_file(data, f->cascade_path)) return is_cascade(f->cascade_path);
    if (same_file(data, f->data_path))
      return "its data file " + data + " is already the data file of " + f->cascade_path +
             " (not of " + cascade + " too)";
    if (same_file(data, Journal::path_for(f->data_path)) ||
        same_file(Journal::path_for(data), f->data_path))
      return "its data file " + data + " and " + f->data_path + " would be each other's journal";
  }
  return std::nullopt;
}

// The files a run writes besides the data files and journals.
std::vector<std::pair<std::string, std::string>> outputs_of(const RunOptions& o) {
  return {{"--stats-json", o.stats_json},
          {"--events", o.events == "-" ? std::string() : o.events},
          {"--port-file", o.port_file},
          {"--http-port-file", o.http_port_file}};
}

// What a shared file reads and writes, which no output may be.
std::vector<std::pair<std::string, std::string>> files_of(const std::string& cascade,
                                                          const std::string& data) {
  return {{"the cascade file", cascade},
          {"the data file", data},
          {"the journal", Journal::path_for(data)}};
}

// Before anything is written: no output is a file the run shares (a statistics file written over
// the data file would destroy it), and no port file without its port.
void check_outputs(const RunOptions& o) {
  if (o.http.empty() && !o.http_port_file.empty())
    throw Fatal(ExitCode::usage, "--http-port-file needs --http");
  std::vector<std::pair<std::string, std::string>> inputs;
  for (std::size_t i = 0; i < o.cascade_paths.size(); ++i) {
    if (is_directory(o.cascade_paths[i])) {
      // Any file there may be shared, now or later: no output goes there.
      for (const auto& [option, path] : outputs_of(o))
        if (!path.empty() && lies_in(path, o.cascade_paths[i]))
          throw Fatal(ExitCode::usage, option + " " + path + " is in the shared directory " +
                                           o.cascade_paths[i] + ", whose files may be shared");
      continue;
    }
    const auto mine =
        files_of(o.cascade_paths[i],
                 o.data_paths.empty() ? default_data_path(o.cascade_paths[i]) : o.data_paths[i]);
    inputs.insert(inputs.end(), mine.begin(), mine.end());
  }
  if (auto clash = output_clash(outputs_of(o), inputs)) throw Fatal(ExitCode::usage, *clash);
}

// Reads the cascade files SOURCE names (their data files are opened later: a bad cascade file or
// a port in use leaves no new empty data files behind); the directories it names go to `dirs`.
std::vector<std::shared_ptr<SharedFile>> load_files(const RunOptions& o,
                                                    std::vector<std::string>& dirs) {
  std::vector<std::shared_ptr<SharedFile>> files;
  for (std::size_t i = 0; i < o.cascade_paths.size(); ++i) {
    if (is_directory(o.cascade_paths[i])) {
      if (!o.data_paths.empty())
        throw Fatal(ExitCode::usage, "-o cannot name data files when SOURCE has a directory (" +
                                         o.cascade_paths[i] + ")");
      dirs.push_back(o.cascade_paths[i]);
      continue;
    }
    const std::string data =
        o.data_paths.empty() ? default_data_path(o.cascade_paths[i]) : o.data_paths[i];
    if (auto clash =
            data_file_clash(o.cascade_paths[i], data, files, o.cascade_paths, o.data_paths.empty()))
      throw Fatal(ExitCode::usage, o.cascade_paths[i] + ": " + *clash);
    files.push_back(load_shared_file(o.cascade_paths[i], data, o.max_block_size));
    for (std::size_t k = 0; k + 1 < files.size(); ++k)
      if (files[k]->cascade_hash == files.back()->cascade_hash)
        throw Fatal(ExitCode::usage, o.cascade_paths[i] + ": the same cascade file is given twice");
  }
  return files;
}

// Stops a file's group commit and flushes what it has not committed yet (an incomplete file's
// verified blocks are then durable and named by its journal).
void make_durable(SharedFile& f) {
  if (!f.journal) return;
  f.journal->stop_commits();
  if (f.complete) return;
  try {
    f.journal->flush();
  } catch (const std::exception& e) {
    log::warn("journal: ", e.what());
  }
}

void log_summary(const std::vector<std::shared_ptr<SharedFile>>& files) {
  for (const auto& f : files) {
    std::string from;
    for (const auto& [src, n] : f->stats.sources())
      from += " " + src + "=" + std::to_string(n.blocks);
    log::info(f->data_path, ": ", f->complete ? "complete" : "incomplete", ", ",
              f->blocks.verified_count(), "/", f->meta.block_count(), " blocks, downloaded ",
              format_size(f->stats.bytes_downloaded), ", served ", f->stats.blocks_served.load(),
              " blocks", from.empty() ? "" : ", blocks from:", from);
  }
}

}  // namespace

namespace {
int run(RunOptions& o, Events* events);

// When a peer that keeps serving after its files are complete has served enough.
class SeedLimit {
 public:
  explicit SeedLimit(const RunOptions& o) : time_(o.seed_time), ratio_(o.seed_ratio) {}
  bool set() const { return time_ || ratio_; }
  // Called on every report tick; true once the limit is reached (and says why, once).
  bool reached(const std::vector<std::shared_ptr<SharedFile>>& files, net::Clock::time_point now) {
    if (files.empty()) return false;
    for (const auto& f : files)
      if (!f->complete) {
        complete_since_.reset();  // a file added later (a shared directory) is seeded too
        return false;
      }
    if (!complete_since_) {
      complete_since_ = now;
      log::info("every file complete: seeding",
                time_ ? " for " + format_number(*time_) + " s" : std::string(),
                time_ && ratio_ ? " or" : "",
                ratio_ ? " until each file's size x " + format_number(*ratio_) + " is served"
                       : std::string());
    }
    if (time_ && std::chrono::duration<double>(now - *complete_since_).count() >= *time_) {
      log::info("seeded for ", format_number(*time_), " s: exiting");
      return true;
    }
    if (ratio_) {
      for (const auto& f : files)
        if (static_cast<double>(f->stats.bytes_served.load()) <
            *ratio_ * static_cast<double>(f->meta.target_size))
          return false;
      log::info("every file served its size x ", format_number(*ratio_), ": exiting");
      return true;
    }
    return false;
  }

 private:
  static std::string format_number(double r) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", r);
    return buf;
  }
  std::optional<double> time_, ratio_;
  std::optional<net::Clock::time_point> complete_since_;
};
}  // namespace

int run_peer(RunOptions o) {
  check_arguments(o);
  check_outputs(o);
  std::unique_ptr<Events> events;
  if (!o.events.empty()) events = std::make_unique<Events>(o.events);
  int code = 0;
  try {
    code = run(o, events.get());
  } catch (const Fatal& f) {
    if (events) events->exit(to_int(f.code));
    throw;
  }
  if (events) events->exit(code);
  return code;
}

namespace {
int run(RunOptions& o, Events* events) {
  const auto started = net::Clock::now();
  const double started_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto since_start = [&] {
    return std::chrono::duration<double>(net::Clock::now() - started).count();
  };
  o.serve.events = events;
  o.download.events = events;
  const std::size_t threads = threads_or_cores(o.threads);
  raise_fd_limit();
  // The io_context outlives everything that uses it (the files' journals hold timers of it); the
  // pool drains (its destructor) before the io_context goes, since pool jobs may reference
  // coroutine frames.
  asio::io_context io;
  std::vector<std::string> dirs;
  std::vector<std::shared_ptr<SharedFile>> given = load_files(o, dirs);
  ThreadPool pool(threads);
  // Group commits (fdatasync of the data, then of the journal) wait on the disk: they get a
  // thread of their own, so no hashing or serving worker ever waits for a sync.
  ThreadPool sync_pool(1);
  TokenBucket upload(o.max_upload_rate), download(o.max_download_rate);
  if (!upload.unlimited()) o.serve.upload = &upload;
  if (!download.unlimited()) o.download.download = &download;

  std::atomic<int> exit_code{0};
  std::atomic<bool> stopping{false};
  std::unique_ptr<BlockServer> server;
  FileSet set;
  auto shutdown = [&](int code) {
    int expected = 0;
    if (code != 0) exit_code.compare_exchange_strong(expected, code);
    if (stopping.exchange(true)) return;
    asio::post(io, [&] {
      if (server) server->stop();
      for (auto& e : set.entries()) e.downloader->stop();
      io.stop();
    });
  };
  // The first fatal error is the run's: said, and its exit code. Others that follow from it (a
  // full disk fails every writer at once) go to the debug log.
  std::atomic<bool> fatal_said{false};
  auto on_fatal = [&](const Fatal& f) {
    if (!fatal_said.exchange(true))
      log::error(f.what());
    else
      log::debug("also: ", f.what());
    shutdown(to_int(f.code));
  };
  const bool exit_when_complete =
      o.client_only || (o.exit_when_done && !o.seed_time && !o.seed_ratio);
  SeedLimit seed_limit(o);

  // A file's blocks found, its place in the set, its server entry, its journal's group commit
  // and its downloader: on the io threads (or before they run).
  auto prepare = [&](SharedFile& f, ThreadPool& hashing, const std::atomic<bool>* stop) {
    f.storage->keep_cache(o.keep_cache);
    find_present_blocks(f, hashing, o.verify_all, stop);
    if (o.spread && f.blocks.complete())
      f.first_copies = std::make_unique<FirstCopies>(f.meta.block_count());
    if (events)
      events->file_started(f.data_path, to_hex(f.cascade_hash), f.meta.block_count(),
                           f.blocks.verified_count(), f.blocks.complete());
  };
  // A shared directory's files are added and removed one at a time (see below).
  std::mutex sharing_mutex;
  std::function<void(const std::string&, const SharedFile*, const char*, bool)> stop_file;
  auto start_file = [&](std::shared_ptr<SharedFile> f, bool in_directory) {
    auto on_complete = [&, file = f.get()] {
      file->stats.complete_seconds = since_start();
      log::info(file->data_path, ": complete and verified after ",
                std::to_string(std::lround(file->stats.complete_seconds * 1000)), " ms");
      if (exit_when_complete && set.all_complete()) shutdown(0);
    };
    if (f->journal)
      f->journal->commit_every(io, sync_pool, [&](const std::string& message) {
        on_fatal(Fatal(ExitCode::failure, message));
      });
    if (server) server->add_file(f);
    // A file of a shared directory whose cascade file proves inconsistent (every block verified,
    // the whole file not) stops being shared, as a file refused at the start is; the others go on.
    // The watches hold sharing_mutex while they hash a new file: a network thread does not wait
    // for it, but tries again every 50 ms. Only this entry goes (the path may have been removed
    // and added again meanwhile).
    auto file_fatal = [&, in_directory, cascade = f->cascade_path,
                       which = f.get()](const Fatal& fatal) {
      if (!in_directory || fatal.code != ExitCode::usage) return on_fatal(fatal);
      log::warn(fatal.what(), " (no longer shared; tried again once its cascade file changes)");
      asio::co_spawn(
          io,
          [&, cascade, which]() -> asio::awaitable<void> {
            asio::steady_timer wait(io);
            for (;;) {
              if (std::unique_lock lock(sharing_mutex, std::try_to_lock); lock.owns_lock())
                co_return stop_file(cascade, which,
                                    "its whole file does not match; no longer shared", false);
              wait.expires_after(50ms);
              if (auto [ec] = co_await wait.async_wait(net::nothrow); ec) co_return;
            }
          },
          asio::detached);
    };
    auto d = std::make_shared<Downloader>(io, pool, f, o.download, file_fatal, on_complete);
    set.add(FileSet::Entry{f, d});
    d->start();
  };
  // A file of a shared directory leaving the set: no longer served (unless `still_served`, by
  // the server's entry until a new one replaces it), announced or downloaded; what was verified
  // of it is made durable.
  stop_file = [&](const std::string& cascade_path, const SharedFile* only, const char* why,
                  bool still_served) {
    if (only) {
      const auto files = set.files();
      if (std::none_of(files.begin(), files.end(), [&](const auto& f) { return f.get() == only; }))
        return;  // gone already, or replaced by a new entry for the same path
    }
    auto e = set.remove(cascade_path);
    if (!e) return;
    if (server && !still_served) server->remove_file(e->file->cascade_hash);
    e->downloader->stop();
    log::info(cascade_path, ": ", why);
    if (events) events->file_removed(e->file->data_path);
    make_durable(*e->file);
  };

  // A file's hashing after the start (a shared directory's new files, files checked again) has a
  // pool of its own, so serving and downloading the others do not queue behind it.
  ThreadPool scan_pool(threads);
  // A file the block server found changed by another program is checked again as a restart
  // would: it leaves the set, and a new entry comes with the blocks that still match (and
  // downloads the others). One file at a time, on a thread of its own; a stop ends the check.
  ThreadPool recheck_pool(1);
  auto recheck = [&](const std::shared_ptr<SharedFile>& old) {
    std::lock_guard lock(sharing_mutex);
    const auto files = set.files();
    if (stopping || std::find(files.begin(), files.end(), old) == files.end()) return;
    const bool in_directory = std::none_of(given.begin(), given.end(), [&](const auto& g) {
      return g->cascade_path == old->cascade_path;
    });
    // Meanwhile the server's entry answers its blocks "not held" (askers try other peers), not
    // "not served here", which they would take as a refusal of the whole file.
    stop_file(old->cascade_path, old.get(), "changed by another program; checking it again", true);
    bool replaced = false;
    try {
      auto f = open_shared_file(old->cascade_path, old->data_path, o.max_block_size);
      prepare(*f, scan_pool, &stopping);
      if (!stopping) {
        start_file(f, in_directory);
        replaced = f->cascade_hash == old->cascade_hash;
      }
    } catch (const StopRequested&) {
    } catch (const Fatal& e) {  // its message names the file
      if (!in_directory) return on_fatal(e);
      log::warn(e.what(), " (no longer shared; tried again once its cascade file changes)");
    } catch (const std::exception& e) {
      on_fatal(Fatal(ExitCode::failure, old->data_path + ": " + e.what()));
    }
    if (!replaced && server) server->remove_file(old->cascade_hash);
  };
  o.serve.changed = [&](std::shared_ptr<SharedFile> f) {
    recheck_pool.post([&recheck, f = std::move(f)] { recheck(f); });
  };

  // The ports first: one in use ends the run now, not after a long check of the files. Clients
  // wait in the listen queues until the io threads and the pages' threads run.
  if (!o.client_only) {
    server = std::make_unique<BlockServer>(io, pool, std::vector<std::shared_ptr<SharedFile>>{},
                                           o.serve);
    const std::string address = o.listen.empty() ? format_ipv4(o.download.self.ip) : o.listen;
    try {
      o.download.self.port = server->start(address, o.download.self.port);
    } catch (const std::exception& e) {
      throw Fatal(ExitCode::failure, e.what());
    }
  }
  // Status pages, on the HTTP service's own threads; they only read (PeerSnapshot).
  std::unique_ptr<PeerPages> pages;
  std::unique_ptr<http::Service> pages_service;
  std::uint16_t pages_port = 0;
  if (!o.http.empty()) {
    pages = std::make_unique<PeerPages>([&] {
      return take_peer_snapshot(set.entries(), server.get(), since_start(), started_unix);
    });
    pages_service = std::make_unique<http::Service>(pages->routes());
    try {
      pages_port = pages_service->bind(o.http);
    } catch (const std::exception& e) {
      throw Fatal(ExitCode::failure, e.what());
    }
  }

  // A port file that cannot be written ends the run in order (exit 1, the exit event).
  auto write_port = [&](const std::string& path, std::uint16_t port) {
    if (path.empty()) return;
    try {
      write_port_file(path, port);
    } catch (const std::exception& e) {
      on_fatal(Fatal(ExitCode::failure, e.what()));
    }
  };
  // A SIGINT or SIGTERM while the files are checked ends the run at once, with nothing written.
  auto stopped_while_starting = [&](const StopRequested& stop) {
    log::info("signal ", stop.signal, " while starting: stopping");
    pool.stop();  // the jobs of files started already end before their files go
    sync_pool.stop();
    return 0;
  };
  try {
    for (auto& f : given) open_data_file(*f);
    for (auto& f : given) prepare(*f, pool, nullptr);
  } catch (const StopRequested& stop) {
    return stopped_while_starting(stop);
  }
  for (auto& f : given) start_file(f, false);

  // Shared directories: the files in them now, then a watch for those that come and go. A file
  // there that cannot be shared is a warning, not the end of the process.
  // The watches' threads add and remove files one at a time (sharing_mutex), straight away: a
  // file rewritten in place is removed before it is added again, and two files with one hash
  // never both get in. A new file is hashed on a pool of its own, so serving the others does
  // not queue behind it.
  std::vector<std::unique_ptr<DirectoryWatch>> watches;
  for (const auto& dir : dirs) {
    auto add = [&](const std::string& cascade_path) {
      std::lock_guard lock(sharing_mutex);
      if (stopping) return false;
      std::shared_ptr<SharedFile> f;
      try {
        const std::string data = default_data_path(cascade_path);
        if (auto clash = data_file_clash(cascade_path, data, set.files(), {cascade_path}, true)) {
          log::warn(cascade_path, ": ", *clash, " (ignored until its cascade file changes)");
          return false;
        }
        f = open_shared_file(cascade_path, data, o.max_block_size);
        if (auto other = set.path_of(f->cascade_hash)) {
          log::warn(cascade_path, ": the same cascade file as ", *other, " is shared; ignored");
          return false;
        }
        prepare(*f, scan_pool, &stopping);
        start_file(f, true);
      } catch (const StopRequested&) {
        if (!stopping) throw;     // a signal at start-up: the run stops (below)
        return false;             // the run stops: no need to finish hashing it
      } catch (const Fatal& e) {  // its message names the file
        log::warn(e.what(), " (ignored until its cascade file changes)");
        return false;
      } catch (const std::exception& e) {
        log::warn(cascade_path, ": ", e.what(), " (ignored until its cascade file changes)");
        return false;
      }
      return true;
    };
    auto remove = [&](const std::string& cascade_path) {
      std::lock_guard lock(sharing_mutex);
      stop_file(cascade_path, nullptr, "removed from the directory; no longer shared", false);
    };
    watches.push_back(std::make_unique<DirectoryWatch>(dir, add, remove));
    try {
      watches.back()->scan();
    } catch (const StopRequested& stop) {
      return stopped_while_starting(stop);
    } catch (const std::exception& e) {
      throw Fatal(ExitCode::failure, e.what());
    }
    log::info(dir, ": sharing ", set.entries().size(), " file(s) so far; watching for more");
  }
  if (server) {
    const std::string address = o.listen.empty() ? format_ipv4(o.download.self.ip) : o.listen;
    log::info("serving ", set.entries().size(), " file(s) on ", address, ":", o.download.self.port,
              ", reporting ", to_string(o.download.self));
    write_port(o.port_file, o.download.self.port);
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  net::on_stop_signals(signals, [&](int sig) {
    log::info("signal ", sig, ": stopping (a second signal exits at once)");
    shutdown(0);
  });
  // The signal set has the signals now; one that came since the files were checked:
  if (const int sig = early_stop_signal()) {
    log::info("signal ", sig, " while starting: stopping");
    shutdown(0);
  } else {
    for (auto& w : watches) w->start();
  }

  if (pages_service) {
    pages_service->serve();
    log::info("status pages on http://", o.http.substr(0, o.http.rfind(':')), ":", pages_port,
              "/ (metrics at /metrics)");
    write_port(o.http_port_file, pages_port);
  }

  // Reports only: progress on the terminal or in the log, and the statistics file.
  Progress progress(o.quiet);
  asio::steady_timer ticker(io);
  const auto print_every = progress.tty() ? progress_period_tty : progress_period_log;
  auto last_print = net::Clock::now(), last_stats = last_print;
  std::function<void()> tick = [&] {
    ticker.expires_after(report_tick);
    ticker.async_wait([&](std::error_code ec) {
      if (ec || stopping) return;
      const auto now = net::Clock::now();
      const auto files = set.files();
      if (now - last_print >= print_every) {
        progress.tick(files);
        last_print = now;
      }
      if (seed_limit.set() && seed_limit.reached(files, now)) {
        shutdown(0);
        return;
      }
      if (!o.stats_json.empty() && now - last_stats >= stats_period) {
        write_stats(o.stats_json, files, since_start());
        last_stats = now;
      }
      tick();
    });
  };
  tick();
  net::run_threads(io, threads);
  for (auto& w : watches) w->stop();
  recheck_pool.stop();  // a check under way ends at its next block (stopping)
  if (pages_service) pages_service->stop();
  pool.stop();
  sync_pool.stop();
  // Run what was posted since the stop (verdicts, wake-ups): coroutines waiting only for those
  // end now, on their strands, instead of being torn down with the io_context.
  io.restart();
  io.poll();
  const auto files = set.files();
  for (auto& f : files) make_durable(*f);  // what was verified before the stop is durable

  progress.tick(files, true);
  log_summary(files);
  if (!o.stats_json.empty()) write_stats(o.stats_json, files, since_start());
  return exit_code;
}
}  // namespace

}  // namespace cascade
