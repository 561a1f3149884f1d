// cascade-tracker: command line and start-up only; the work is in server.cpp and registry.cpp.
#include <CLI/CLI.hpp>
#include <iostream>

#include "common/endpoint.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "common/system.hpp"
#include "tracker/server.hpp"

using namespace cascade;

int main(int argc, char** argv) {
  CLI::App app{"cascade-tracker: keeps the registry of peers per swarm and answers LIST / SUBSCRIBE"};
  std::string config_path, bind, port_file, log_level = "info";
  std::optional<std::uint16_t> port;
  std::size_t threads = 0;
  std::uint64_t stats_interval = 60;
  app.add_option("-c,--config", config_path, "JSON configuration file")->required();
  app.add_option("--bind", bind, "address to listen on (overrides \"bind\")");
  app.add_option("--port", port, "port to listen on, 0 for any (overrides \"port\")");
  app.add_option("--threads", threads, "network threads (default: one per core this process may use)");
  app.add_option("--stats-interval", stats_interval, "seconds between stats lines, 0 for none");
  app.add_option("--port-file", port_file, "write the bound port to this file once listening");
  app.add_option("--log-level", log_level, "debug, info, warn, error or off");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "cascade-tracker: " << e.what() << " (see --help)\n";
    return 2;
  }
  log::set_program("tracker");
  ignore_sigpipe();
  auto level = log::parse_level(log_level);
  if (!level) {
    std::cerr << "cascade-tracker: --log-level must be debug, info, warn, error or off\n";
    return 2;
  }
  log::set_level(*level);

  TrackerConfig config;
  try {
    std::vector<std::string> warnings;
    config = load_tracker_config(config_path, warnings);
    for (const auto& w : warnings) log::warn(config_path, ": ", w);
  } catch (const ConfigError& e) {
    std::cerr << "cascade-tracker: " << e.what() << "\n";
    return 2;
  }
  if (port) config.port = port;
  if (!bind.empty()) {
    if (!parse_ipv4(bind)) {
      std::cerr << "cascade-tracker: --bind: not an IPv4 address: " << bind << "\n";
      return 2;
    }
    config.bind = bind;
  }
  if (!config.port) {
    std::cerr << "cascade-tracker: " << config_path << ": key \"port\" is missing (or give --port)\n";
    return 2;
  }
  const std::uint64_t fds = raise_fd_limit();
  try {
    const std::string mode = config.open ? "open" : "closed";
    const std::size_t hashes = config.allowed_hashes.size();
    const std::string bind_addr = config.bind;
    if (threads == 0) threads = usable_cores();
    TrackerServer server(std::move(config), TrackerServer::Options{threads, stats_interval});
    const std::uint16_t bound = server.bind();
    if (!port_file.empty()) {
      const std::string text = std::to_string(bound) + "\n";
      write_file_replace(port_file, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
    }
    log::info("listening on ", bind_addr, " port ", bound, ", mode ",
              mode, mode == "closed" ? ", " + std::to_string(hashes) + " allowed hashes" : std::string(),
              ", ", threads, threads == 1 ? " thread" : " threads", ", fd limit ", fds);
    server.run();
  } catch (const std::exception& e) {
    std::cerr << "cascade-tracker: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
