// Lower-case hex for hashes and byte strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proto/byte_io.hpp"
#include "proto/cascade_file.hpp"

namespace cascade {

std::string to_hex(ByteSpan bytes);
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<Bytes> from_hex(std::string_view text);
// Exactly 64 hex digits.
std::optional<Hash256> hash_from_hex(std::string_view text);

}  // namespace cascade
