#include "proto/wire.hpp"

#include <algorithm>
#include <cstring>

namespace cascade {

namespace {
constexpr std::size_t offset_version = 4;
constexpr std::size_t offset_command = 8;
constexpr std::size_t offset_body_length = 12;
constexpr std::size_t offset_response_length = 1;
constexpr std::array<std::uint8_t, 8> peer_magic = cascade_magic;
}  // namespace

Decoded<TrackerCommand> decode_tracker_header(ByteSpan header) {
  using D = Decoded<TrackerCommand>;
  ByteReader r(header);
  const auto magic = r.array<4>();
  const std::uint32_t version = r.u32();
  const std::uint32_t command = r.u32();
  const std::uint32_t body_length = r.u32();
  // A wrong magic is reported as soon as its four bytes are there, even if the rest is not.
  if (header.size() >= magic.size() && magic != tracker_magic)
    return D::fail(ProtoError::bad_magic, 0);
  if (!r.ok()) return D::fail(ProtoError::truncated, r.offset());
  if (version != tracker_version) return D::fail(ProtoError::bad_version, offset_version);
  if (command != 1 && command != 2) return D::fail(ProtoError::unknown_command, offset_command);
  if (body_length != tracker_body_size)
    return D::fail(ProtoError::bad_body_length, offset_body_length);
  return D{static_cast<TrackerCommand>(command), ProtoError::none, 0};
}

Decoded<TrackerRequest> decode_tracker_request(ByteSpan in) {
  using D = Decoded<TrackerRequest>;
  auto header = decode_tracker_header(in.first(std::min(in.size(), tracker_header_size)));
  if (!header.ok()) return D::fail(header.error, header.offset);
  ByteReader r(in);
  r.bytes(tracker_header_size);
  TrackerRequest req;
  req.command = *header.value;
  req.cascade_hash = r.array<32>();
  req.ip = r.u32();
  req.port = r.u16();
  if (!r.ok()) return D::fail(ProtoError::truncated, r.offset());
  return D{req, ProtoError::none, 0};
}

Bytes encode_tracker_request(const TrackerRequest& req) {
  Bytes out;
  out.reserve(tracker_request_size);
  ByteWriter w(out);
  w.bytes(tracker_magic);
  w.u32(tracker_version);
  w.u32(static_cast<std::uint32_t>(req.command));
  w.u32(tracker_body_size);
  w.bytes(req.cascade_hash);
  w.u32(req.ip);
  w.u16(req.port);
  return out;
}

void encode_tracker_ok(std::span<const PeerEntry> peers, Bytes& out) {
  ByteWriter w(out);
  w.u8(tracker_status_ok);
  w.u32(static_cast<std::uint32_t>(peers.size() * peer_entry_size));
  for (const auto& p : peers) {
    w.u32(p.ip);
    w.u16(p.port);
    w.u32(p.last_seen);
    w.u8(p.good ? 1 : 0);
    w.u8(0);
  }
}

void encode_tracker_error(std::string_view message, Bytes& out) {
  message = message.substr(0, max_error_message);
  ByteWriter w(out);
  w.u8(tracker_status_error);
  w.u32(static_cast<std::uint32_t>(message.size()));
  w.bytes({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
}

Decoded<ResponseHeader> decode_tracker_response_header(ByteSpan header, std::size_t max_peers) {
  using D = Decoded<ResponseHeader>;
  ByteReader r(header);
  ResponseHeader h;
  h.status = r.u8();
  h.length = r.u32();
  if (!r.ok()) return D::fail(ProtoError::truncated, r.offset());
  if (h.status == tracker_status_ok) {
    if (h.length % peer_entry_size != 0)
      return D::fail(ProtoError::bad_payload_length, offset_response_length);
    if (h.length / peer_entry_size > max_peers)
      return D::fail(ProtoError::payload_too_large, offset_response_length);
  } else if (h.length > max_error_message) {
    return D::fail(ProtoError::payload_too_large, offset_response_length);
  }
  return D{h, ProtoError::none, 0};
}

Decoded<std::vector<PeerEntry>> decode_peer_entries(ByteSpan payload) {
  using D = Decoded<std::vector<PeerEntry>>;
  if (payload.size() % peer_entry_size != 0) return D::fail(ProtoError::bad_payload_length, 0);
  std::vector<PeerEntry> peers(payload.size() / peer_entry_size);
  ByteReader r(payload);
  for (auto& p : peers) {
    p.ip = r.u32();
    p.port = r.u16();
    p.last_seen = r.u32();
    p.good = r.u8() == 1;
    r.u8();  // reserved
  }
  return D{std::move(peers), ProtoError::none, 0};
}

Decoded<TrackerResponse> decode_tracker_response(ByteSpan in, std::size_t max_peers) {
  using D = Decoded<TrackerResponse>;
  auto header = decode_tracker_response_header(
      in.first(std::min(in.size(), tracker_response_header_size)), max_peers);
  if (!header.ok()) return D::fail(header.error, header.offset);
  ByteReader r(in);
  r.bytes(tracker_response_header_size);
  ByteSpan payload = r.bytes(header.value->length);
  if (!r.ok()) return D::fail(ProtoError::truncated, r.offset());
  TrackerResponse resp;
  resp.status = header.value->status;
  if (resp.status == tracker_status_ok) {
    resp.peers = std::move(*decode_peer_entries(payload).value);  // length checked above
  } else {
    resp.message.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
  }
  return D{std::move(resp), ProtoError::none, 0};
}

Decoded<PeerRequest> decode_peer_request(ByteSpan in) {
  using D = Decoded<PeerRequest>;
  ByteReader r(in);
  const auto magic = r.array<8>();
  r.bytes(16);  // reserved
  PeerRequest req;
  req.block = r.u64();
  req.cascade_hash = r.array<32>();
  if (in.size() >= magic.size() && magic != peer_magic) return D::fail(ProtoError::bad_magic, 0);
  if (!r.ok()) return D::fail(ProtoError::truncated, r.offset());
  return D{req, ProtoError::none, 0};
}

void encode_peer_request(const PeerRequest& req, std::span<std::uint8_t, peer_request_size> out) {
  std::memcpy(out.data(), peer_magic.data(), peer_magic.size());
  std::memset(out.data() + 8, 0, 16);
  store_be64(out.data() + 24, req.block);
  std::memcpy(out.data() + 32, req.cascade_hash.data(), req.cascade_hash.size());
}

Bytes encode_peer_request(const PeerRequest& req) {
  Bytes out(peer_request_size);
  encode_peer_request(req,
                      std::span<std::uint8_t, peer_request_size>(out.data(), peer_request_size));
  return out;
}

void encode_peer_response_header(PeerStatus status, std::uint64_t length,
                                 std::span<std::uint8_t, peer_response_header_size> out) {
  out[0] = static_cast<std::uint8_t>(status);
  store_be64(out.data() + 1, length);
}

Bytes encode_peer_error(PeerStatus status, std::string_view message) {
  message = message.substr(0, max_error_message);
  Bytes out(peer_response_header_size);
  encode_peer_response_header(
      status, message.size(),
      std::span<std::uint8_t, peer_response_header_size>(out.data(), out.size()));
  ByteWriter(out).bytes({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
  return out;
}

Decoded<ResponseHeader> decode_peer_response_header(ByteSpan header,
                                                    std::uint64_t expected_length) {
  using D = Decoded<ResponseHeader>;
  ByteReader r(header);
  ResponseHeader h;
  h.status = r.u8();
  h.length = r.u64();
  if (header.size() >= 1 && h.status > static_cast<std::uint8_t>(PeerStatus::malformed))
    return D::fail(ProtoError::bad_status, 0);
  if (!r.ok()) return D::fail(ProtoError::truncated, r.offset());
  if (h.status == 0 && h.length != expected_length)
    return D::fail(ProtoError::bad_payload_length, offset_response_length);
  if (h.status != 0 && h.length > max_error_message)
    return D::fail(ProtoError::payload_too_large, offset_response_length);
  return D{h, ProtoError::none, 0};
}

std::string printable(std::string_view text, std::size_t max_len) {
  std::string out;
  for (char c : text.substr(0, max_len)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > max_len) out += "...";
  return out;
}

}  // namespace cascade
