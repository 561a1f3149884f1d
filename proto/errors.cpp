#include "proto/errors.hpp"

namespace cascade {

std::string_view describe(ProtoError e) {
  switch (e) {
    case ProtoError::none:
      return "no error";
    case ProtoError::truncated:
      return "message is truncated";
    case ProtoError::bad_magic:
      return "bad magic";
    case ProtoError::bad_version:
      return "unsupported protocol version";
    case ProtoError::unknown_command:
      return "unknown command";
    case ProtoError::bad_body_length:
      return "body length must be 38";
    case ProtoError::bad_block_size:
      return "invalid block size";
    case ProtoError::size_overflow:
      return "target size and block size give an impossible block count";
    case ProtoError::bad_payload_length:
      return "payload length does not match the request";
    case ProtoError::payload_too_large:
      return "payload is larger than allowed";
    case ProtoError::bad_status:
      return "unknown response status";
  }
  return "unknown error";
}

}  // namespace cascade
