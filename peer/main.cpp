// cascade-peer: command line. Subcommands: make (create a cascade file), info (describe one),
// run (download and serve).
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/exit.hpp"
#include "common/file.hpp"
#include "common/hex.hpp"
#include "common/log.hpp"
#include "common/sha256.hpp"
#include "common/system.hpp"
#include "common/units.hpp"
#include "common/version.hpp"
#include "peer/create.hpp"
#include "peer/peer_app.hpp"

using namespace cascade;

namespace {

LoadedCascade load_cascade(const std::string& path) {
  try {
    return load_cascade_file(path);
  } catch (const CascadeLoadError& e) {
    throw Fatal(ExitCode::usage, e.what());
  }
}

std::vector<std::string> split_colons(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t colon; (colon = s.find(':', start)) != std::string::npos; start = colon + 1)
    out.push_back(s.substr(start, colon - start));
  out.push_back(s.substr(start));
  return out;
}

std::uint64_t size_option(const std::string& name, const std::string& text, bool allow_zero) {
  auto v = parse_size(text);
  if (!v || (!allow_zero && *v == 0))
    throw Fatal(ExitCode::usage,
                name + ": not a" + (allow_zero ? "" : " positive") + " size: " + text);
  return *v;
}

std::uint64_t rate_option(const std::string& name, const std::string& text) {
  auto v = parse_rate(text);
  if (!v)
    throw Fatal(ExitCode::usage, name + ": not a rate: " + text +
                                     " (e.g. 512KiB/s, 20MB/s, 100Mbit/s; 0: unlimited)");
  return *v;
}

int cmd_make(const std::string& data, std::string out, const std::string& block_size_text,
             std::size_t threads) {
  const std::uint64_t block_size = size_option("--block-size", block_size_text, false);
  if (out.empty()) out = data + ".cascade";
  if (same_file(out, data))  // any spelling: ./data, an absolute path, a link to it
    throw Fatal(ExitCode::usage, "the cascade file would overwrite the data file: " + out);
  ThreadPool pool(threads_or_cores(threads));
  CascadeFile file;
  try {
    file = make_cascade(data, block_size, pool);
  } catch (const FileError& e) {
    const bool bad_input = e.error == ENOENT || e.error == EISDIR || e.error == EINVAL;
    throw Fatal(bad_input ? ExitCode::usage : ExitCode::failure, e.what());
  }
  const Bytes encoded = encode_cascade_file(file);
  try {
    write_file_replace(out, encoded);
  } catch (const FileError& e) {
    throw Fatal(ExitCode::failure, e.what());
  }
  std::cerr << "wrote " << out << ": " << format_size(file.target_size) << " in "
            << file.block_count() << " blocks of " << format_size(file.block_size) << "\n";
  std::cout << to_hex(sha256(encoded)) << "\n";
  return 0;
}

int cmd_info(const std::string& path, bool as_json) {
  const LoadedCascade l = load_cascade(path);
  const auto& f = l.file;
  const std::uint64_t last = f.block_count() ? f.block_length(f.block_count() - 1) : 0;
  if (as_json) {
    nlohmann::json j = {{"path", path},
                        {"target_size", f.target_size},
                        {"block_size", f.block_size},
                        {"block_count", f.block_count()},
                        {"last_block_size", last},
                        {"target_sha256", to_hex(f.target_hash)},
                        {"cascade_hash", to_hex(l.cascade_hash)},
                        {"data_file", default_data_path(path)}};
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << "file:          " << path << "\n"
            << "data file:     " << default_data_path(path) << "\n"
            << "size:          " << f.target_size << " bytes (" << format_size(f.target_size)
            << ")\n"
            << "block size:    " << f.block_size << " bytes (" << format_size(f.block_size) << ")\n"
            << "blocks:        " << f.block_count() << " (last " << last << " bytes)\n"
            << "target sha256: " << to_hex(f.target_hash) << "\n"
            << "cascade hash:  " << to_hex(l.cascade_hash) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cascade-peer: share and fetch files described by cascade files", "cascade-peer"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cascade-peer ") + version());
  keep_standard_descriptors_open();
  log::set_program("peer");
  ignore_sigpipe();
  // Block buffers (one block each) are allocated and freed as connections come and go. A fixed
  // mmap threshold makes glibc hand them straight back to the system instead of raising the
  // threshold and keeping freed megabytes in the heap (peak RSS stays bounded).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);

  auto* make = app.add_subcommand("make", "create DATA.cascade from a data file");
  std::string make_data, make_out, make_block = format_size_exact(default_block_size);
  std::size_t make_threads = 0;
  make->add_option("DATA", make_data, "data file")->required();
  make->add_option("-o,--output", make_out, "cascade file to write (default DATA.cascade)");
  make->add_option("--block-size", make_block, "block size, e.g. 64KiB, 1MiB")
      ->capture_default_str();
  make->add_option("--threads", make_threads,
                   "hashing threads (0: one per core this process may use)")
      ->check(CLI::Range(std::size_t{0}, max_threads))
      ->capture_default_str();

  auto* info = app.add_subcommand("info", "describe a cascade file");
  std::string info_path;
  bool info_json = false;
  info->add_option("FILE", info_path, "cascade file")->required();
  info->add_flag("--json", info_json, "print JSON");

  auto* run =
      app.add_subcommand("run", "download the missing blocks of files and serve the blocks held");
  RunOptions ro;  // every default of `run` is here: the help below prints them
  auto& d = ro.download;
  std::string sources, outputs, log_level = "info";
  bool no_spread = !ro.spread;
  std::uint64_t announce = d.announce_interval.count(), list_interval = d.list_interval.count(),
                connect_ms = d.connect_timeout.count(), block_ms = d.block_timeout.count(),
                tracker_ms = d.tracker_timeout.count();
  std::string max_up = "0", max_down = "0";
  std::string window = format_size_exact(d.window_bytes),
              max_block = format_size_exact(ro.max_block_size);
  run->add_option("SOURCE", sources,
                  "cascade file(s) or directories (every *.cascade in them, watched), separated "
                  "by ':'")
      ->required();
  run->add_option("TRACKER", ro.tracker,
                  "tracker host:port, or several comma-separated (each is asked; answers merge)")
      ->required();
  run->add_option("SELF", ro.self,
                  "ip:port this peer serves on and reports (port 0: any free port)")
      ->required();
  run->add_option("-o,--output", outputs,
                  "data file(s), separated by ':' (default: SOURCE without its extension)");
  run->add_flag("-c,--client-only", ro.client_only,
                "download only; exit 0 once every file is complete");
  run->add_flag("--exit-when-done", ro.exit_when_done,
                "serve while downloading, but exit 0 once every file is complete");
  run->add_option("--listen", ro.listen, "address to bind instead of SELF's (e.g. 0.0.0.0)");
  run->add_option("--connections", d.connections, "download connections per file")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  run->add_option("--pipeline", d.pipeline,
                  "outstanding requests per connection (0: follow each connection's rate, a "
                  "tenth of a second's worth and a round trip, 1 to 4 MiB's worth of blocks)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  run->add_option("--announce-interval", announce, "seconds between SUBSCRIBEs")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  run->add_option("--list-interval", list_interval,
                  "seconds between LISTs while too few peers are known (sooner while the swarm "
                  "forms: 0.25, 0.5, 1 ... s)")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  run->add_option("--connect-timeout-ms", connect_ms, "connecting to a peer")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  run->add_option("--block-timeout-ms", block_ms, "receiving one whole block")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  run->add_option("--tracker-timeout-ms", tracker_ms, "one tracker request")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  run->add_option("--max-connections", ro.serve.max_connections, "serving connections at once")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  run->add_option("--window", window,
                  "pick blocks at random (with -c: the lowest first) within this much of the file "
                  "after the first missing block, so the whole-file hash follows the download; 0: "
                  "anywhere, at random")
      ->capture_default_str();
  run->add_option("--max-block-size", max_block, "refuse cascade files with larger blocks")
      ->capture_default_str();
  run->add_option("--upload-slots", ro.serve.upload_slots,
                  "blocks of 256 KiB or more sent at once to other hosts, over all files and "
                  "connections (while all are taken, others are told to ask elsewhere first; asked "
                  "again, they wait their turn, 5 s at most); 0: all at once")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  run->add_option("--max-connections-per-ip", ro.serve.max_connections_per_ip,
                  "serving connections from one address (0: no cap but --max-connections)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  run->add_option("--max-peers", d.max_peers, "peers remembered per file")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  run->add_option("--max-upload-rate", max_up,
                  "over all files and connections, e.g. 512KiB/s, 20MB/s (10^6), 100Mbit/s; 0: "
                  "unlimited")
      ->capture_default_str();
  run->add_option("--max-download-rate", max_down, "the same for downloads")->capture_default_str();
  run->add_option("--threads", ro.threads,
                  "network threads and worker threads (0: one per core this process may use)")
      ->check(CLI::Range(std::size_t{0}, max_threads))
      ->capture_default_str();
  run->add_option("--port-file", ro.port_file, "write the serving port here once listening");
  run->add_option("--stats-json", ro.stats_json,
                  "keep per-file statistics (JSON) here: every 200 ms and at exit");
  std::string seed_time, seed_ratio;
  run->add_option("--seed-time", seed_time,
                  "once every file is complete, serve this long more (e.g. 90s, 30m, 2h, 1d), then "
                  "exit 0");
  run->add_option("--seed-ratio", seed_ratio,
                  "once every file is complete, serve until each file's size x R was sent, then "
                  "exit 0 (with --seed-time: whichever comes first)");
  run->add_option("--events", ro.events,
                  "append one JSON object per event to this file (\"-\": stdout); see the README");
  run->add_option("--http", ro.http,
                  "serve metrics and status pages on this IPv4:port (port 0: any; off by default)");
  run->add_option("--http-port-file", ro.http_port_file,
                  "write the bound HTTP port here once listening");
  run->add_flag("-q,--quiet", ro.quiet, "no progress output");
  run->add_flag("--verify-all", ro.verify_all,
                "ignore the journal: hash every block present at start-up");
  run->add_flag("--keep-cache", ro.keep_cache,
                "keep a downloaded file's pages in the page cache (by default, once durable and "
                "in the whole-file hash they are evicted: the cache stays small, and serving "
                "them reads them back from the disk)");
  run->add_flag("--no-spread", no_spread,
                "a seed serves every request at once (by default, a file complete at start-up "
                "sends every block once before any twice, about in file order: a block already "
                "sent, or far ahead, is answered \"ask other peers first\" until the same "
                "address asks again)");
  run->add_option("--log-level", log_level, "debug, info, warn, error or off")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return report_fatal("cascade-peer",
                        Fatal(ExitCode::usage, std::string(e.what()) + " (see --help)"));
  }
  try {
    // What make and info print is their result: output that could not be written (a full disk,
    // a closed pipe) is a failure, not exit 0.
    auto printed = [](int code) {
      if (!std::cout.flush() && code == 0)
        return report_fatal("cascade-peer",
                            Fatal(ExitCode::failure, "cannot write to the standard output"));
      return code;
    };
    if (*make) return printed(cmd_make(make_data, make_out, make_block, make_threads));
    if (*info) return printed(cmd_info(info_path, info_json));
    // run: a signal while it starts stops it in order (make and info keep the default: exit).
    catch_early_signals(/*hangup=*/false);
    auto level = log::parse_level(log_level);
    if (!level) throw Fatal(ExitCode::usage, "--log-level must be debug, info, warn, error or off");
    log::set_level(ro.quiet && *level < log::Level::warn ? log::Level::warn : *level);
    ro.cascade_paths = split_colons(sources);
    if (!outputs.empty()) ro.data_paths = split_colons(outputs);
    for (const auto& p : ro.cascade_paths)
      if (p.empty()) throw Fatal(ExitCode::usage, "SOURCE has an empty cascade path");
    for (const auto& p : ro.data_paths)
      if (p.empty()) throw Fatal(ExitCode::usage, "-o has an empty data path");
    ro.max_block_size = size_option("--max-block-size", max_block, false);
    d.window_bytes = size_option("--window", window, true);
    ro.max_upload_rate = rate_option("--max-upload-rate", max_up);
    ro.max_download_rate = rate_option("--max-download-rate", max_down);
    d.announce_interval = std::chrono::seconds(announce);
    ro.spread = !no_spread;
    if (!seed_time.empty()) {
      ro.seed_time = parse_duration(seed_time);
      if (!ro.seed_time)
        throw Fatal(ExitCode::usage, "--seed-time: not a duration: " + seed_time +
                                         " (e.g. 90s, 30m, 2h, 1d, 1h30m)");
    }
    if (!seed_ratio.empty()) {
      double r = -1;
      auto [end, ec] = std::from_chars(seed_ratio.data(), seed_ratio.data() + seed_ratio.size(), r);
      if (ec != std::errc() || end != seed_ratio.data() + seed_ratio.size() || !(r >= 0) || r > 1e6)
        throw Fatal(ExitCode::usage,
                    "--seed-ratio: not a ratio: " + seed_ratio + " (e.g. 1, 2.5; 0 to 1000000)");
      ro.seed_ratio = r;
    }
    d.list_interval = std::chrono::seconds(list_interval);
    d.connect_timeout = std::chrono::milliseconds(connect_ms);
    d.block_timeout = std::chrono::milliseconds(block_ms);
    d.tracker_timeout = std::chrono::milliseconds(tracker_ms);
    return run_peer(std::move(ro));
  } catch (const Fatal& f) {
    return report_fatal("cascade-peer", f);
  } catch (const std::exception& e) {
    return report_fatal("cascade-peer", Fatal(ExitCode::failure, e.what()));
  }
}
