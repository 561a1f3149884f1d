// Typed decode errors shared by every proto decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cascade {

enum class ProtoError : std::uint8_t {
  none = 0,
  truncated,           // the input ended before the message did
  bad_magic,           // the magic bytes are not what the format requires
  bad_version,         // tracker header version is not 1
  unknown_command,     // tracker command is neither LIST (1) nor SUBSCRIBE (2)
  bad_body_length,     // tracker header body length is not 38
  bad_block_size,      // cascade file block size is 0 or above the reader's limit
  size_overflow,       // cascade file sizes whose block table cannot exist in memory
  bad_payload_length,  // a response length that does not fit what was asked for
  payload_too_large,   // an error message longer than the cap
  bad_status,          // a response status this protocol does not define
};

// One sentence, suitable for a log line or an error payload sent on the wire.
std::string_view describe(ProtoError e);

// The result of a decoder: a value, or the error and the byte offset where it was found.
template <class T>
struct Decoded {
  std::optional<T> value;
  ProtoError error = ProtoError::none;
  std::size_t offset = 0;  // for errors: offset of the offending field, or where input ran out

  bool ok() const { return value.has_value(); }
  static Decoded fail(ProtoError e, std::size_t at) { return Decoded{std::nullopt, e, at}; }
};

}  // namespace cascade
