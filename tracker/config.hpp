// Tracker configuration: the existing JSON format (port, allowedhashes, good-ips, ban-private)
// plus Cascade's own keys. Loading never half-succeeds: any bad key is a ConfigError naming it.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "tracker/registry.hpp"

namespace cascade {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TrackerConfig {
  std::optional<std::uint16_t> port;  // "port"; required unless given on the command line
  std::string bind = "0.0.0.0";       // "bind"
  // "open": track any well-formed hash. Defaults to true when "allowedhashes" is absent and to
  // false when it is present, so a config with only a port runs an open tracker.
  bool open = true;
  std::unordered_set<Hash256, HashKey> allowed_hashes;                   // "allowedhashes"
  std::unordered_set<std::uint32_t> good_ips;                            // "good-ips"
  bool ban_private = false;                                              // "ban-private"
  bool require_source_ip = false;                                        // "require-source-ip"
  std::uint64_t peer_ttl_seconds = registry_defaults::peer_ttl_seconds;  // "peer-ttl-seconds"
  std::size_t max_peers_reported = registry_defaults::max_reported;      // "max-peers-reported"
  std::size_t max_peers = registry_defaults::max_peers;  // "max-peers": remembered in all swarms
  std::size_t max_connections = 4096;                    // "max-connections": open at once
  std::size_t max_connections_per_ip = 256;              // "max-connections-per-ip"
  std::uint64_t request_timeout_ms = 5000;               // "request-timeout-ms": whole request
};

// Parses JSON text. `warnings` receives one line per unknown key. Throws ConfigError.
TrackerConfig parse_tracker_config(const std::string& json_text,
                                   std::vector<std::string>& warnings);
// Every key with its default (taken from TrackerConfig{}) and meaning, one per line: printed by
// `cascade-tracker --help` and quoted by the README.
std::string describe_config_keys();
// The largest config read (about 900,000 allowed hashes): a larger file is refused before it is
// read, a pipe (`--config <(...)`) once more came.
inline constexpr std::uint64_t max_config_bytes = 64ull << 20;
// Reads and parses a file; the error message starts with the path.
TrackerConfig load_tracker_config(const std::string& path, std::vector<std::string>& warnings);

}  // namespace cascade
