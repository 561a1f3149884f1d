#include "peer/holdings_hint.hpp"

#include <algorithm>
#include <charconv>

namespace cascade {

namespace {
constexpr std::string_view marker = "; it holds ";
constexpr std::string_view list_start = " blocks: ";
constexpr std::string_view truncated = ",...";
}  // namespace

bool append_block_ranges(std::string& out, const std::vector<bool>& flags, bool want,
                         std::uint64_t from, std::uint64_t end, std::size_t max_chars,
                         std::uint64_t run_until) {
  end = std::min<std::uint64_t>(end, flags.size());
  run_until = std::min(run_until, end);
  bool first = true;
  for (std::uint64_t b = from; b < end;) {
    if (flags[b] != want) {
      ++b;
      continue;
    }
    std::uint64_t e = b < run_until ? run_until - 1 : b;  // known to be one run: not read
    while (e + 1 < end && flags[e + 1] == want) ++e;
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
}

std::string holdings_hint(const std::vector<bool>& held, std::uint64_t count, std::uint64_t near,
                          std::size_t max_chars, std::uint64_t prefix, std::uint64_t end) {
  const std::uint64_t n = held.size();
  if (count == 0 || count >= n) return {};
  std::string head(marker);
  head += std::to_string(count);
  head += " of ";
  head += std::to_string(n);
  head += list_start;
  std::string out = head;
  if (!append_block_ranges(out, held, true, 0, end, max_chars, prefix) && near > 0) {
    out = head;  // too many to list all: those from `near` on (the asker works around it)
    append_block_ranges(out, held, true, std::min(near, n), end, max_chars, prefix);
  }
  return out;
}

std::string unsent_hint(const std::vector<bool>& sent, std::uint64_t from, std::uint64_t end) {
  std::string out(marker);
  out += "all ";
  out += std::to_string(sent.size());
  out += " blocks, and no other peer has these";
  out += list_start;
  const std::size_t head = out.size();
  append_block_ranges(out, sent, false, from, end, max_holdings_hint);
  if (out.size() == head) return {};
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
