// Human-readable byte sizes: "4096", "64KiB", "1MiB", "2M" (binary multiples throughout).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cascade {

// Accepts a decimal count with an optional suffix K, KB, KiB, M, MB, MiB, G, GB, GiB (any case);
// every multiple is a power of 1024. nullopt on junk or overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);
// "1.5 MiB", "512 B".
std::string format_size(std::uint64_t bytes);
// `bytes` in the largest binary unit that divides it exactly, as parse_size reads it back
// ("64MiB", "1536KiB", "0"): for defaults shown on the command line.
std::string format_size_exact(std::uint64_t bytes);

}  // namespace cascade
