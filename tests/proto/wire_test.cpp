#include "proto/wire.hpp"

#include <gtest/gtest.h>

#include "common/endpoint.hpp"
#include "common/hex.hpp"
#include "tests/support/vectors.hpp"

using namespace cascade;
using cascade::test::vector_file;
using cascade::test::vector_hex;
using cascade::test::vectors;

namespace {
Hash256 sample_hash() {
  return *hash_from_hex(vectors()["sample.txt"]["cascade_hash"].get<std::string>());
}

std::uint32_t ip_of(const std::string& key) {
  return *parse_ipv4(vectors()[key]["ip"].get<std::string>());
}
}  // namespace

// ---- Tracker requests ----

TEST(TrackerRequestVectors, ListAndSubscribeDecodeAndReencodeByteForByte) {
  for (const std::string key : {"tracker_list_request", "tracker_subscribe_request"}) {
    const Bytes bytes = vector_hex(key);
    auto d = decode_tracker_request(bytes);
    ASSERT_TRUE(d.ok()) << key << ": " << describe(d.error);
    EXPECT_EQ(static_cast<std::uint32_t>(d.value->command),
              vectors()[key]["command"].get<std::uint32_t>());
    EXPECT_EQ(d.value->cascade_hash, sample_hash());
    EXPECT_EQ(d.value->ip, ip_of(key));
    EXPECT_EQ(d.value->port, vectors()[key]["port"].get<std::uint16_t>());
    EXPECT_EQ(encode_tracker_request(*d.value), bytes) << key;
  }
}

TEST(TrackerRequestDecode, EveryPrefixIsTruncatedAtItsEnd) {
  const Bytes bytes = vector_hex("tracker_subscribe_request");
  for (std::size_t n = 4; n < bytes.size(); ++n) {
    auto d = decode_tracker_request(ByteSpan(bytes).first(n));
    ASSERT_EQ(d.error, ProtoError::truncated) << n;
    EXPECT_EQ(d.offset, n);
  }
  EXPECT_TRUE(decode_tracker_request(bytes).ok());
}

TEST(TrackerRequestDecode, RejectsBadMagicAtZero) {
  Bytes b = vector_hex("tracker_list_request");
  b[0] = 'X';
  auto d = decode_tracker_request(b);
  EXPECT_EQ(d.error, ProtoError::bad_magic);
  EXPECT_EQ(d.offset, 0u);
}

TEST(TrackerRequestDecode, RejectsVersionOtherThanOneAtFour) {
  Bytes b = vector_hex("tracker_list_request");
  b[7] = 2;
  auto d = decode_tracker_request(b);
  EXPECT_EQ(d.error, ProtoError::bad_version);
  EXPECT_EQ(d.offset, 4u);
}

TEST(TrackerRequestDecode, RejectsUnknownCommandAtEight) {
  for (std::uint8_t cmd : {0, 3, 255}) {
    Bytes b = vector_hex("tracker_list_request");
    b[11] = cmd;
    auto d = decode_tracker_request(b);
    EXPECT_EQ(d.error, ProtoError::unknown_command) << int(cmd);
    EXPECT_EQ(d.offset, 8u);
  }
}

TEST(TrackerRequestDecode, RejectsBodyLengthOtherThan38AtTwelve) {
  for (std::uint8_t len : {0, 37, 39}) {
    Bytes b = vector_hex("tracker_list_request");
    b[15] = len;
    auto d = decode_tracker_header(ByteSpan(b).first(tracker_header_size));
    EXPECT_EQ(d.error, ProtoError::bad_body_length) << int(len);
    EXPECT_EQ(d.offset, 12u);
  }
  Bytes huge = vector_hex("tracker_list_request");
  huge[12] = 0xff;
  EXPECT_EQ(decode_tracker_header(ByteSpan(huge).first(16)).error, ProtoError::bad_body_length);
}

TEST(TrackerRequestEncode, RoundTrips) {
  TrackerRequest r{TrackerCommand::subscribe, sample_hash(), 0x0a000005, 65535};
  r.cascade_hash[31] = 0xee;
  EXPECT_EQ(*decode_tracker_request(encode_tracker_request(r)).value, r);
}

// ---- Tracker responses ----

TEST(TrackerResponseVectors, OkResponseDecodesToTheRecordedPeersAndReencodes) {
  const Bytes bytes = vector_hex("tracker_ok_response");
  auto d = decode_tracker_response(bytes, 20);
  ASSERT_TRUE(d.ok()) << describe(d.error);
  EXPECT_EQ(d.value->status, 0);
  const auto& expect = vectors()["tracker_ok_response"]["peers"];
  ASSERT_EQ(d.value->peers.size(), expect.size());
  for (std::size_t i = 0; i < expect.size(); ++i) {
    EXPECT_EQ(d.value->peers[i].ip, *parse_ipv4(expect[i]["ip"].get<std::string>()));
    EXPECT_EQ(d.value->peers[i].port, expect[i]["port"].get<std::uint16_t>());
    EXPECT_EQ(d.value->peers[i].last_seen, expect[i]["last_seen"].get<std::uint32_t>());
    EXPECT_EQ(d.value->peers[i].good, expect[i]["good"].get<bool>());
  }
  Bytes re;
  encode_tracker_ok(d.value->peers, re);
  EXPECT_EQ(re, bytes);
}

TEST(TrackerResponseVectors, ErrorResponseDecodesToTheMessageAndReencodes) {
  const Bytes bytes = vector_hex("tracker_error_response");
  auto d = decode_tracker_response(bytes, 20);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->status, 1);
  EXPECT_EQ(d.value->message, vectors()["tracker_error_response"]["message"].get<std::string>());
  Bytes re;
  encode_tracker_error(d.value->message, re);
  EXPECT_EQ(re, bytes);
}

TEST(TrackerResponseDecode, EverySplitOfAVectorIsTruncatedUntilComplete) {
  for (const std::string key : {"tracker_ok_response", "tracker_error_response"}) {
    const Bytes bytes = vector_hex(key);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto d = decode_tracker_response(ByteSpan(bytes).first(n), 20);
      ASSERT_EQ(d.error, ProtoError::truncated) << key << " " << n;
      EXPECT_EQ(d.offset, n);
    }
  }
}

TEST(TrackerResponseDecode, RejectsOkLengthNotAMultipleOf12) {
  const Bytes b = {0, 0, 0, 0, 13};
  auto d = decode_tracker_response_header(b, 20);
  EXPECT_EQ(d.error, ProtoError::bad_payload_length);
  EXPECT_EQ(d.offset, 1u);
}

TEST(TrackerResponseDecode, RejectsMorePeersThanTheCallerAccepts) {
  const Bytes b = {0, 0xff, 0xff, 0xff, 0xfc};  // 357913941 entries claimed
  auto d = decode_tracker_response_header(b, 1000);
  EXPECT_EQ(d.error, ProtoError::payload_too_large);
  EXPECT_EQ(d.offset, 1u);
}

TEST(TrackerResponseDecode, RejectsHugeErrorMessages) {
  const Bytes b = {1, 0x00, 0x01, 0x00, 0x01};  // 64 KiB + 1
  EXPECT_EQ(decode_tracker_response_header(b, 20).error, ProtoError::payload_too_large);
  const Bytes ok = {1, 0x00, 0x01, 0x00, 0x00};
  EXPECT_TRUE(decode_tracker_response_header(ok, 20).ok());
}

TEST(TrackerResponseDecode, IgnoresTrailingBytesAfterThePayload) {
  Bytes b = vector_hex("tracker_ok_response");
  b.push_back(0x42);
  auto d = decode_tracker_response(b, 20);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->peers.size(), 2u);
}

TEST(PeerEntriesDecode, RejectsPartialEntries) {
  EXPECT_EQ(decode_peer_entries(Bytes(11)).error, ProtoError::bad_payload_length);
  EXPECT_TRUE(decode_peer_entries(Bytes(24)).ok());
}

// ---- Peer messages ----

TEST(PeerRequestVectors, Block2DecodesAndReencodesByteForByte) {
  const Bytes bytes = vector_hex("peer_request_block_2");
  auto d = decode_peer_request(bytes);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->block, vectors()["peer_request_block_2"]["block"].get<std::uint64_t>());
  EXPECT_EQ(d.value->cascade_hash, sample_hash());
  EXPECT_EQ(encode_peer_request(*d.value), bytes);
}

TEST(PeerRequestDecode, EveryPrefixIsTruncatedAtItsEnd) {
  const Bytes bytes = vector_hex("peer_request_block_2");
  for (std::size_t n = 8; n < bytes.size(); ++n) {
    auto d = decode_peer_request(ByteSpan(bytes).first(n));
    ASSERT_EQ(d.error, ProtoError::truncated) << n;
    EXPECT_EQ(d.offset, n);
  }
}

TEST(PeerRequestDecode, RejectsBadMagicAtZero) {
  Bytes b = vector_hex("peer_request_block_2");
  b[0] = 'c';
  auto d = decode_peer_request(b);
  EXPECT_EQ(d.error, ProtoError::bad_magic);
  EXPECT_EQ(d.offset, 0u);
}

TEST(PeerRequestDecode, IgnoresReservedBytes) {
  Bytes b = vector_hex("peer_request_block_2");
  b[8] = 0x55;
  b[23] = 0xaa;
  ASSERT_TRUE(decode_peer_request(b).ok());
  EXPECT_EQ(decode_peer_request(b).value->block, 2u);
}

TEST(PeerRequestEncode, RoundTripsLargeIndices) {
  PeerRequest r{0x0102030405060708ull, sample_hash()};
  EXPECT_EQ(*decode_peer_request(encode_peer_request(r)).value, r);
}

TEST(PeerResponseVectors, OkHeaderForBlock2MatchesByteForByte) {
  const Bytes bytes = vector_hex("peer_ok_response_header_block_2");
  auto d = decode_peer_response_header(bytes, 1808);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->status, 0);
  EXPECT_EQ(d.value->length,
            vectors()["peer_ok_response_header_block_2"]["length"].get<std::uint64_t>());
  std::array<std::uint8_t, peer_response_header_size> out{};
  encode_peer_response_header(PeerStatus::ok, 1808, out);
  EXPECT_EQ(Bytes(out.begin(), out.end()), bytes);
}

TEST(PeerResponseVectors, NotHeldErrorMatchesByteForByte) {
  const Bytes bytes = vector_hex("peer_error_response_not_held");
  const std::string message =
      vectors()["peer_error_response_not_held"]["message"].get<std::string>();
  EXPECT_EQ(encode_peer_error(PeerStatus::not_held, message), bytes);
  auto d = decode_peer_response_header(ByteSpan(bytes).first(peer_response_header_size), 1808);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->status, 2);
  EXPECT_EQ(d.value->length, message.size());
}

TEST(PeerResponseDecode, EveryPrefixOfTheHeaderIsTruncated) {
  const Bytes bytes = vector_hex("peer_ok_response_header_block_2");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto d = decode_peer_response_header(ByteSpan(bytes).first(n), 1808);
    ASSERT_EQ(d.error, ProtoError::truncated) << n;
    EXPECT_EQ(d.offset, n);
  }
}

TEST(PeerResponseDecode, RejectsOkWithAnotherLengthThanTheBlocks) {
  const Bytes bytes = vector_hex("peer_ok_response_header_block_2");
  auto d = decode_peer_response_header(bytes, 4096);
  EXPECT_EQ(d.error, ProtoError::bad_payload_length);
  EXPECT_EQ(d.offset, 1u);
}

TEST(PeerResponseDecode, RejectsUnknownStatusAtZero) {
  Bytes b = vector_hex("peer_ok_response_header_block_2");
  b[0] = 5;
  auto d = decode_peer_response_header(b, 1808);
  EXPECT_EQ(d.error, ProtoError::bad_status);
  EXPECT_EQ(d.offset, 0u);
}

TEST(PeerResponseDecode, RejectsHugeErrorLengths) {
  Bytes b(peer_response_header_size, 0xff);
  b[0] = 2;
  EXPECT_EQ(decode_peer_response_header(b, 1808).error, ProtoError::payload_too_large);
}

TEST(PeerStatuses, OnlyOkAndNotHeldKeepTheConnection) {
  EXPECT_FALSE(closes_connection(PeerStatus::ok));
  EXPECT_FALSE(closes_connection(PeerStatus::not_held));
  EXPECT_TRUE(closes_connection(PeerStatus::unknown_cascade));
  EXPECT_TRUE(closes_connection(PeerStatus::out_of_range));
  EXPECT_TRUE(closes_connection(PeerStatus::malformed));
}

TEST(Printable, ReplacesControlBytesAndCaps) {
  EXPECT_EQ(printable(std::string("a\nb\x01", 4)), "a?b?");
  EXPECT_EQ(printable(std::string(300, 'x'), 10), "xxxxxxxxxx...");
}
