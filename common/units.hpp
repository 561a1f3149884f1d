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

// A rate as people write it, in bytes per second: a number (decimals allowed) and a unit, with
// or without "/s": B, KB, MB, GB (10^3, 10^6, 10^9 bytes), KiB, MiB, GiB (2^10 ...), bit, kbit,
// Mbit, Gbit (bits: 10^3 ... / 8); a bare number is bytes. Units in any case, except that a
// lowercase "b" for bytes ("b", "kb", "Mb") is refused (bits or bytes?). "0" is 0 (unlimited,
// for the caller). nullopt on junk, a negative value or overflow.
std::optional<std::uint64_t> parse_rate(std::string_view text);

// A duration as people write it, in seconds: a number (decimals allowed) with a unit s, m, h or
// d, or a bare number of seconds; parts may follow each other ("1h30m"). nullopt on junk, a
// negative value or more than 100 years.
std::optional<double> parse_duration(std::string_view text);

}  // namespace cascade
