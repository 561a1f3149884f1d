// IPv4 endpoints as the protocol carries them: a 32-bit address and a 16-bit port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cascade {

struct Endpoint {
  std::uint32_t ip = 0;  // host order: 127.0.0.1 is 0x7f000001
  std::uint16_t port = 0;

  // Packs ip and port into one key for hash maps.
  std::uint64_t key() const { return (std::uint64_t{ip} << 16) | port; }
  bool operator==(const Endpoint&) const = default;
};

// Dotted-quad IPv4 ("10.0.0.5"); strict: four decimal parts 0-255, no leading '+' or spaces.
std::optional<std::uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(std::uint32_t ip);
// A port number, 1-65535 (0 only when allow_zero).
std::optional<std::uint16_t> parse_port(std::string_view text, bool allow_zero = false);
// "a.b.c.d:port" with port 1-65535 (port 0 is accepted only when allow_zero_port).
std::optional<Endpoint> parse_endpoint(std::string_view text, bool allow_zero_port = false);
std::string to_string(const Endpoint& e);

// RFC 1918 private ranges (10/8, 172.16/12, 192.168/16): what "ban-private" refuses.
bool is_private_ipv4(std::uint32_t ip);

}  // namespace cascade
