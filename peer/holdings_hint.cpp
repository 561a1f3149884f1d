#include "peer/holdings_hint.hpp"

#include <algorithm>
#include <charconv>

namespace cascade {

namespace {
constexpr std::string_view marker = "; it holds ";
constexpr std::string_view list_start = " blocks: ";
constexpr std::string_view truncated = ",...";
}  // namespace

std::string holdings_hint(const std::vector<bool>& held, std::uint64_t count, std::uint64_t near,
                          std::size_t max_chars, std::uint64_t prefix, std::uint64_t end) {
  const std::uint64_t n = held.size();
  if (count == 0 || count >= n) return {};
  end = std::min(end, n);
  prefix = std::min(prefix, end);
  std::string head(marker);
  head += std::to_string(count);
  head += " of ";
  head += std::to_string(n);
  head += list_start;
  // The ranges from block `from` on; false when they had to be cut.
  auto list = [&](std::uint64_t from, std::string& out) {
    out = head;
    bool first = true;
    for (std::uint64_t b = std::min(from, n); b < end;) {
      if (!held[b]) {
        ++b;
        continue;
      }
      std::uint64_t e = b < prefix ? prefix - 1 : b;  // the prefix is one range, known held
      while (e + 1 < end && held[e + 1]) ++e;
      std::string range = first ? std::string() : std::string(",");
      range += std::to_string(b);
      if (e > b) {
        range += '-';
        range += std::to_string(e);
      }
      if (out.size() + range.size() + truncated.size() > max_chars) {
        out.append(truncated, first ? 1 : 0);
        return false;
      }
      out += range;
      first = false;
      b = e + 1;
    }
    return true;
  };
  std::string out;
  if (!list(0, out) && near > 0) list(near, out);  // too many to list all: those from `near` on
  return out;
}

std::vector<std::uint64_t> parse_holdings_hint(std::string_view message, std::uint64_t count) {
  std::vector<std::uint64_t> out;
  const auto at = message.find(marker);
  if (at == std::string_view::npos) return out;
  const auto list = message.find(list_start, at + marker.size());
  if (list == std::string_view::npos) return out;
  const char* p = message.data() + list + list_start.size();
  const char* const end = message.data() + message.size();
  // Ranges ascending and apart, each within the file; the first token that is not stops the list.
  auto number = [&](std::uint64_t& v) {
    const auto r = std::from_chars(p, end, v);
    if (r.ec != std::errc{} || r.ptr == p) return false;
    p = r.ptr;
    return true;
  };
  while (p < end) {
    std::uint64_t a = 0, b = 0;
    if (!number(a)) break;
    b = a;
    if (p < end && *p == '-') {
      ++p;
      if (!number(b)) break;
    }
    if (b < a || b >= count || (!out.empty() && a <= out.back())) break;
    for (std::uint64_t x = a; x <= b && out.size() < max_hinted_blocks; ++x) out.push_back(x);
    if (out.size() == max_hinted_blocks) break;
    if (p == end || *p != ',') break;
    ++p;
  }
  return out;
}

}  // namespace cascade
