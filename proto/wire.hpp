// Tracker (PROTOCOL.md section 2) and peer (section 3) wire messages: pure encode/decode.
//
// Every decoder takes exactly the bytes of one message (or of its fixed-size header) and checks
// each length against what the caller expects before anything is allocated from it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/byte_io.hpp"
#include "proto/cascade_file.hpp"
#include "proto/errors.hpp"

namespace cascade {

// Longest error message a decoder accepts in a response, and that encoders send.
inline constexpr std::size_t max_error_message = 64 * 1024;

// ---- Tracker ---------------------------------------------------------------------------------

//  0 "CASC" | 4 version = 1 | 8 command | 12 body length = 38 | 16 cascade hash | 48 ip | 52 port
inline constexpr std::size_t tracker_header_size = 16;
inline constexpr std::size_t tracker_body_size = 38;
inline constexpr std::size_t tracker_request_size = tracker_header_size + tracker_body_size;
inline constexpr std::uint32_t tracker_version = 1;
inline constexpr std::array<std::uint8_t, 4> tracker_magic = {'C', 'A', 'S', 'C'};

enum class TrackerCommand : std::uint32_t { list = 1, subscribe = 2 };

struct TrackerRequest {
  TrackerCommand command = TrackerCommand::list;
  Hash256 cascade_hash{};
  std::uint32_t ip = 0;  // IPv4, host order (the decoded big-endian value)
  std::uint16_t port = 0;
  bool operator==(const TrackerRequest&) const = default;
};

// Checks the 16-byte header. Errors: truncated, bad_magic (0), bad_version (4),
// unknown_command (8), bad_body_length (12). On success the value is the command.
Decoded<TrackerCommand> decode_tracker_header(ByteSpan header);
// Decodes a whole 54-byte request (header checks first, then the body).
Decoded<TrackerRequest> decode_tracker_request(ByteSpan in);
Bytes encode_tracker_request(const TrackerRequest& req);

// Response: 0 status | 1 length (u32) | 5 payload. Status 0: 12-byte peer entries.
inline constexpr std::size_t tracker_response_header_size = 5;
inline constexpr std::size_t peer_entry_size = 12;
inline constexpr std::uint8_t tracker_status_ok = 0;
inline constexpr std::uint8_t tracker_status_error = 1;

struct PeerEntry {
  std::uint32_t ip = 0;  // IPv4, host order
  std::uint16_t port = 0;
  std::uint32_t last_seen = 0;  // Unix seconds
  bool good = false;
  bool operator==(const PeerEntry&) const = default;
};

struct ResponseHeader {
  std::uint8_t status = 0;
  std::uint64_t length = 0;  // payload bytes that follow the header
};

void encode_tracker_ok(std::span<const PeerEntry> peers, Bytes& out);
void encode_tracker_error(std::string_view message, Bytes& out);

// Checks a 5-byte tracker response header: a status-0 length must be a multiple of 12 and at most
// max_peers entries (bad_payload_length / payload_too_large at offset 1); an error length at
// most max_error_message.
Decoded<ResponseHeader> decode_tracker_response_header(ByteSpan header, std::size_t max_peers);

struct TrackerResponse {
  std::uint8_t status = 0;
  std::vector<PeerEntry> peers;  // status 0
  std::string message;           // any other status
};
// Decodes a complete response: header and exactly `length` payload bytes.
Decoded<TrackerResponse> decode_tracker_response(ByteSpan in, std::size_t max_peers);
// Decodes a status-0 payload; its length must be a multiple of 12.
Decoded<std::vector<PeerEntry>> decode_peer_entries(ByteSpan payload);

// ---- Peer ------------------------------------------------------------------------------------

//  0 "CASCADE1" | 8 reserved (16) | 24 block index | 32 cascade hash
inline constexpr std::size_t peer_request_size = 64;
inline constexpr std::size_t peer_response_header_size = 9;  // status (1) | length (8)

enum class PeerStatus : std::uint8_t {
  ok = 0,
  unknown_cascade = 1,  // closes
  not_held = 2,         // stays open
  out_of_range = 3,     // closes
  malformed = 4,        // closes
};
// True for statuses after which the serving side closes the connection.
constexpr bool closes_connection(PeerStatus s) {
  return s != PeerStatus::ok && s != PeerStatus::not_held;
}

struct PeerRequest {
  std::uint64_t block = 0;
  Hash256 cascade_hash{};
  bool operator==(const PeerRequest&) const = default;
};

// Errors: truncated, bad_magic (0). The reserved bytes are ignored.
Decoded<PeerRequest> decode_peer_request(ByteSpan in);
void encode_peer_request(const PeerRequest& req, std::span<std::uint8_t, peer_request_size> out);
Bytes encode_peer_request(const PeerRequest& req);

void encode_peer_response_header(PeerStatus status, std::uint64_t length,
                                 std::span<std::uint8_t, peer_response_header_size> out);
Bytes encode_peer_error(PeerStatus status, std::string_view message);

// Checks a 9-byte peer response header against the block asked for: status 0 must carry exactly
// expected_length bytes (bad_payload_length at 1); errors at most max_error_message bytes
// (payload_too_large at 1); statuses above 4 are bad_status (0).
Decoded<ResponseHeader> decode_peer_response_header(ByteSpan header, std::uint64_t expected_length);

// Replaces bytes that are not printable ASCII, for logging text that came from the network.
std::string printable(std::string_view text, std::size_t max_len = 200);

}  // namespace cascade
