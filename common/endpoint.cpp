#include "common/endpoint.hpp"

#include <charconv>

namespace cascade {

namespace {
// A decimal number of at most `max_digits` digits and value at most `max`.
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::size_t max_digits,
                                           std::uint32_t max) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}
}  // namespace

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::uint32_t ip = 0;
  for (int part = 0; part < 4; ++part) {
    const std::size_t dot = part < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto v = parse_decimal(text.substr(0, dot), 3, 255);
    if (!v) return std::nullopt;
    ip = ip << 8 | *v;
    text.remove_prefix(part < 3 ? dot + 1 : dot);
  }
  return ip;
}

std::string format_ipv4(std::uint32_t ip) {
  return std::to_string(ip >> 24) + '.' + std::to_string(ip >> 16 & 255) + '.' +
         std::to_string(ip >> 8 & 255) + '.' + std::to_string(ip & 255);
}

std::optional<std::uint16_t> parse_port(std::string_view text, bool allow_zero) {
  auto port = parse_decimal(text, 5, 65535);
  if (!port || (*port == 0 && !allow_zero)) return std::nullopt;
  return static_cast<std::uint16_t>(*port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text, bool allow_zero_port) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto ip = parse_ipv4(text.substr(0, colon));
  auto port = parse_port(text.substr(colon + 1), allow_zero_port);
  if (!ip || !port) return std::nullopt;
  return Endpoint{*ip, *port};
}

std::string to_string(const Endpoint& e) {
  return format_ipv4(e.ip) + ':' + std::to_string(e.port);
}

bool is_private_ipv4(std::uint32_t ip) {
  return (ip >> 24) == 10 || (ip >> 20) == 0xac1 || (ip >> 16) == 0xc0a8;
}

}  // namespace cascade
