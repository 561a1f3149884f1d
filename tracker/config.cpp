#include "tracker/config.hpp"

#include <nlohmann/json.hpp>

#include "common/endpoint.hpp"
#include "common/file.hpp"
#include "common/hex.hpp"

namespace cascade {

namespace {
using json = nlohmann::json;

[[noreturn]] void fail(const std::string& key, const std::string& what) {
  throw ConfigError("key \"" + key + "\": " + what);
}

std::uint64_t get_uint(const json& j, const std::string& key, std::uint64_t min,
                       std::uint64_t max) {
  const json& v = j.at(key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
    fail(key, "must be a non-negative integer");
  const auto x = v.get<std::uint64_t>();
  if (x < min || x > max)
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return x;
}

bool get_bool(const json& j, const std::string& key) {
  if (!j.at(key).is_boolean()) fail(key, "must be true or false");
  return j.at(key).get<bool>();
}
}  // namespace

namespace {
TrackerConfig interpret(const std::string& json_text, std::vector<std::string>& warnings);
}

TrackerConfig parse_tracker_config(const std::string& json_text,
                                   std::vector<std::string>& warnings) {
  try {
    return interpret(json_text, warnings);
  } catch (const nlohmann::json::exception& e) {  // a value of a type no check above expected
    throw ConfigError(std::string("invalid configuration: ") + e.what());
  }
}

namespace {
TrackerConfig interpret(const std::string& json_text, std::vector<std::string>& warnings) {
  if (json_text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw ConfigError("the configuration is empty");
  // The parser stops at a NUL byte as if the text ended there: what follows it would be unread.
  if (const auto nul = json_text.find('\0'); nul != std::string::npos)
    throw ConfigError("not valid JSON: a NUL byte at offset " + std::to_string(nul));
  json j;
  // No key of ours nests deeper than 2; a file of millions of '[' would take gigabytes and
  // seconds to build (on SIGHUP, on the thread that accepts connections).
  constexpr int max_depth = 16;
  // A key given twice in one object is a mistake the parser would hide (the last one wins).
  std::vector<std::unordered_set<std::string>> keys;  // one set per object being read
  const json::parser_callback_t shallow = [&keys](int depth, json::parse_event_t event,
                                                  json& parsed) {
    if (depth > max_depth)
      throw ConfigError("nested deeper than " + std::to_string(max_depth) + " levels");
    if (event == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      keys.pop_back();
    } else if (event == json::parse_event_t::key && !keys.empty() &&
               !keys.back().insert(parsed.get<std::string>()).second) {
      throw ConfigError("key " + parsed.dump(-1, ' ', true, json::error_handler_t::replace) +
                        " is given twice");
    }
    return true;
  };
  try {
    j = json::parse(json_text, shallow);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 3e999
    throw ConfigError(std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw ConfigError("the configuration must be a JSON object");

  static const std::unordered_set<std::string> known = {"port",
                                                        "bind",
                                                        "open",
                                                        "allowedhashes",
                                                        "good-ips",
                                                        "ban-private",
                                                        "require-source-ip",
                                                        "peer-ttl-seconds",
                                                        "max-peers-reported",
                                                        "max-peers",
                                                        "max-connections",
                                                        "max-connections-per-ip",
                                                        "request-timeout-ms"};
  for (const auto& [key, value] : j.items())
    if (!known.contains(key))  // quoted as JSON: a newline or escape in it stays on one line
      warnings.push_back("unknown key " +
                         json(key).dump(-1, ' ', true, json::error_handler_t::replace) +
                         " ignored");

  TrackerConfig c;
  if (j.contains("port")) c.port = static_cast<std::uint16_t>(get_uint(j, "port", 0, 65535));
  if (j.contains("bind")) {
    if (!j["bind"].is_string() || !parse_ipv4(j["bind"].get<std::string>()))
      fail("bind", "must be an IPv4 address");
    c.bind = j["bind"].get<std::string>();
  }
  if (j.contains("allowedhashes")) {
    const json& list = j["allowedhashes"];
    if (!list.is_array()) fail("allowedhashes", "must be an array of 64-digit hex strings");
    for (const json& h : list) {
      std::optional<Hash256> hash;
      if (h.is_string()) hash = hash_from_hex(h.get<std::string>());
      if (!hash) fail("allowedhashes", "entry " + h.dump() + " is not a 64-digit hex SHA-256");
      c.allowed_hashes.insert(*hash);
    }
    c.open = false;
  }
  if (j.contains("open")) {
    c.open = get_bool(j, "open");
    if (c.open && !c.allowed_hashes.empty())
      warnings.push_back("\"open\" is true: \"allowedhashes\" is not enforced");
  }
  if (j.contains("good-ips")) {
    const json& list = j["good-ips"];
    if (!list.is_array()) fail("good-ips", "must be an array of IPv4 addresses");
    for (const json& ip : list) {
      std::optional<std::uint32_t> v;
      if (ip.is_string()) v = parse_ipv4(ip.get<std::string>());
      if (!v) fail("good-ips", "entry " + ip.dump() + " is not an IPv4 address");
      c.good_ips.insert(*v);
    }
  }
  if (j.contains("ban-private")) c.ban_private = get_bool(j, "ban-private");
  if (j.contains("require-source-ip")) c.require_source_ip = get_bool(j, "require-source-ip");
  if (j.contains("peer-ttl-seconds"))
    c.peer_ttl_seconds = get_uint(j, "peer-ttl-seconds", 1, 30 * 86400);
  if (j.contains("max-peers-reported"))
    c.max_peers_reported = get_uint(j, "max-peers-reported", 1, 1000);
  if (j.contains("max-peers")) c.max_peers = get_uint(j, "max-peers", 1, 100'000'000);
  if (j.contains("max-connections"))
    c.max_connections = get_uint(j, "max-connections", 1, 1'000'000);
  if (j.contains("max-connections-per-ip"))
    c.max_connections_per_ip = get_uint(j, "max-connections-per-ip", 1, 1'000'000);
  if (j.contains("request-timeout-ms"))
    c.request_timeout_ms = get_uint(j, "request-timeout-ms", 10, 600'000);
  if (!c.open && c.allowed_hashes.empty())
    warnings.push_back(
        "\"allowedhashes\" is empty and \"open\" is false: every request will be refused");
  return c;
}
}  // namespace

std::string describe_config_keys() {
  const TrackerConfig d;
  auto n = [](std::uint64_t v) { return std::to_string(v); };
  const std::pair<const char*, std::string> rows[] = {
      {"port", "(required, or --port)  TCP port; 0 picks a free one (see --port-file)"},
      {"bind", "\"" + d.bind + "\"  listening address"},
      {"allowedhashes", "absent  the cascade hashes tracked (64 hex digits each)"},
      {"open", "true without allowedhashes, else false  track any well-formed hash"},
      {"good-ips",
       "[]  peers at these addresses are flagged good; their SUBSCRIBE must come from them"},
      {"ban-private", std::string(d.ban_private ? "true" : "false") +
                          "  refuse SUBSCRIBEs reporting RFC 1918 addresses"},
      {"require-source-ip", std::string(d.require_source_ip ? "true" : "false") +
                                "  a SUBSCRIBE must report the address it comes from"},
      {"peer-ttl-seconds",
       n(d.peer_ttl_seconds) + "  a peer not seen for this long is no longer listed"},
      {"max-peers-reported", n(d.max_peers_reported) + "  peers per answer"},
      {"max-peers", n(d.max_peers) + "  peers remembered over all swarms"},
      {"max-connections",
       n(d.max_connections) + "  connections open at once; more are closed at once"},
      {"max-connections-per-ip",
       n(d.max_connections_per_ip) + "  connections open at once from one address"},
      {"request-timeout-ms",
       n(d.request_timeout_ms) +
           "  the whole request must arrive in this time (else an error saying how much came)"},
  };
  std::string out = "Configuration keys (JSON object), with their defaults:\n";
  for (const auto& [key, text] : rows) out += std::string("  ") + key + ": " + text + "\n";
  return out;
}

TrackerConfig load_tracker_config(const std::string& path, std::vector<std::string>& warnings) {
  std::string text;
  try {
    text = read_small_stream(path, max_config_bytes);
  } catch (const FileError& e) {
    // Its message names the path and the reason ("cannot open", "is a directory", "file is too
    // large": /dev/zero would otherwise be read without end).
    throw ConfigError(e.what());
  }
  try {
    return parse_tracker_config(text, warnings);
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

}  // namespace cascade
