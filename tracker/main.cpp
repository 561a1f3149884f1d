// cascade-tracker: command line and start-up only; the work is in server.cpp and registry.cpp.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "common/endpoint.hpp"
#include "common/exit.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "common/system.hpp"
#include "common/version.hpp"
#include "tracker/server.hpp"
#include "tracker/status.hpp"

using namespace cascade;

namespace {

struct Args {
  std::string config_path, bind, port_file, http, http_port_file, log_level = "info";
  std::optional<std::uint16_t> port;
  TrackerServer::Options server;
};

// The config file with the command line's overrides; throws ConfigError.
TrackerConfig read_config(const Args& a) {
  std::vector<std::string> warnings;
  TrackerConfig config = load_tracker_config(a.config_path, warnings);
  for (const auto& w : warnings) log::warn(a.config_path, ": ", w);
  if (a.port) config.port = a.port;
  if (!a.bind.empty()) config.bind = a.bind;
  return config;
}

TrackerConfig load_config(const Args& a) {
  TrackerConfig config;
  try {
    std::vector<std::string> warnings;
    config = load_tracker_config(a.config_path, warnings);
    for (const auto& w : warnings) log::warn(a.config_path, ": ", w);
  } catch (const ConfigError& e) {
    throw Fatal(ExitCode::usage, e.what());
  }
  if (a.port) config.port = a.port;
  if (!a.bind.empty()) {
    if (!parse_ipv4(a.bind)) throw Fatal(ExitCode::usage, "--bind: not an IPv4 address: " + a.bind);
    config.bind = a.bind;
  }
  if (!config.port)
    throw Fatal(ExitCode::usage, a.config_path + ": key \"port\" is missing (or give --port)");
  if (!a.http.empty() && !parse_endpoint(a.http, /*allow_zero_port=*/true))
    throw Fatal(ExitCode::usage, "--http must be IPv4:port, got \"" + a.http + "\"");
  return config;
}

int run(Args a) {
  auto level = log::parse_level(a.log_level);
  if (!level) throw Fatal(ExitCode::usage, "--log-level must be debug, info, warn, error or off");
  if (a.http.empty() && !a.http_port_file.empty())
    throw Fatal(ExitCode::usage, "--http-port-file needs --http");
  if (auto clash =
          output_clash({{"--port-file", a.port_file}, {"--http-port-file", a.http_port_file}},
                       {{"the configuration", a.config_path}}))
    throw Fatal(ExitCode::usage, *clash);
  log::set_level(*level);
  TrackerConfig config = load_config(a);
  const std::uint64_t fds = raise_fd_limit();
  const std::string mode = config.open ? "open" : "closed";
  const std::size_t hashes = config.allowed_hashes.size();
  const std::string bind_addr = config.bind;
  a.server.threads = threads_or_cores(a.server.threads);
  a.server.reload = [&a] { return read_config(a); };
  try {
    TrackerServer server(std::move(config), a.server);
    // Its signal sets have the signals now; one that came while the configuration was read:
    if (const int sig = early_stop_signal()) {
      log::info("signal ", sig, " while starting: stopping");
      return to_int(ExitCode::ok);
    }
    if (early_hangup()) ::raise(SIGHUP);  // the file may have changed since it was read: again
    const std::uint16_t bound = server.bind();
    std::unique_ptr<http::Service> pages;
    if (!a.http.empty()) {
      pages = std::make_unique<http::Service>(tracker_routes(server));
      const std::uint16_t http_port = pages->start(a.http);
      log::info("status pages on http://", a.http.substr(0, a.http.rfind(':')), ":", http_port,
                "/ (metrics at /metrics)");
      if (!a.http_port_file.empty()) write_port_file(a.http_port_file, http_port);
    }
    log::info("listening on ", bind_addr, " port ", bound, ", mode ", mode,
              mode == "closed" ? ", " + std::to_string(hashes) + " allowed hashes" : std::string(),
              ", ", a.server.threads, a.server.threads == 1 ? " thread" : " threads", ", fd limit ",
              fds);
    // Last: the port file says "started", so whoever waits for it also finds the start line.
    if (!a.port_file.empty()) write_port_file(a.port_file, bound);
    server.run();
  } catch (const std::exception& e) {
    throw Fatal(ExitCode::failure, e.what());
  }
  return to_int(ExitCode::ok);
}

}  // namespace

int main(int argc, char** argv) {
  keep_standard_descriptors_open();
  catch_early_signals(/*hangup=*/true);
  CLI::App app{
      "cascade-tracker: keeps the registry of peers per swarm and answers LIST / SUBSCRIBE",
      "cascade-tracker"};
  app.footer(describe_config_keys());
  Args a;
  app.add_option("-c,--config", a.config_path, "JSON configuration file")->required();
  app.add_option("--bind", a.bind, "address to listen on (overrides \"bind\")");
  app.add_option("--port", a.port, "port to listen on, 0 for any (overrides \"port\")");
  app.add_option("--threads", a.server.threads,
                 "network threads (0: one per core this process may use)")
      ->check(CLI::Range(std::size_t{0}, max_threads))
      ->capture_default_str();
  app.add_option("--stats-interval", a.server.stats_interval_s,
                 "seconds between stats lines, 0 for none")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  app.add_option("--port-file", a.port_file, "write the bound port to this file once listening");
  app.add_option("--http", a.http,
                 "serve metrics and status pages on this IPv4:port (port 0: any; off by default)");
  app.add_option("--http-port-file", a.http_port_file,
                 "write the bound HTTP port to this file once listening");
  app.set_version_flag("--version", std::string("cascade-tracker ") + version());
  app.add_option("--log-level", a.log_level, "debug, info, warn, error or off")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return report_fatal("cascade-tracker",
                        Fatal(ExitCode::usage, std::string(e.what()) + " (see --help)"));
  }
  log::set_program("tracker");
  ignore_sigpipe();
  try {
    return run(std::move(a));
  } catch (const Fatal& f) {
    return report_fatal("cascade-tracker", f);
  }
}
