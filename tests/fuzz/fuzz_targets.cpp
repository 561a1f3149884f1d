// libFuzzer harnesses, one per decoder. Each is built as its own fuzzer by scripts/fuzz.sh
// (clang, -fsanitize=fuzzer) and, through replay_main.cpp, as a ctest that replays the corpus
// and systematic mutations of it under g++ with ASan/UBSan. Decoders must never crash, read out
// of bounds, or decode to something that does not re-encode to the input.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "peer/holdings_hint.hpp"
#include "peer/journal_format.hpp"
#include "proto/byte_io.hpp"
#include "proto/cascade_file.hpp"
#include "proto/wire.hpp"
#include "tracker/config.hpp"

using namespace cascade;

namespace {
void check(bool ok) {
  if (!ok) __builtin_trap();
}

int fuzz_cascade_file(ByteSpan in) {
  auto d = decode_cascade_file(in, CascadeLimits{64ull << 20});
  if (!d.ok()) {
    check(d.error != ProtoError::none && d.offset <= in.size());
    return 0;
  }
  Bytes re = encode_cascade_file(*d.value);
  check(re.size() <= in.size());
  for (std::size_t i = 0; i < re.size(); ++i)
    check((i >= 8 && i < 16) || re[i] == in[i]);  // reserved is zeroed
  return 0;
}

int fuzz_tracker_request(ByteSpan in) {
  auto d = decode_tracker_request(in);
  if (d.ok()) {
    const Bytes re = encode_tracker_request(*d.value);
    check(std::memcmp(re.data(), in.data(), re.size()) == 0);
  }
  return 0;
}

int fuzz_tracker_response(ByteSpan in) {
  auto d = decode_tracker_response(in, 1000);
  if (d.ok() && d.value->status == 0) {
    check(d.value->peers.size() <= 1000);
    Bytes re;
    encode_tracker_ok(d.value->peers, re);
    check(re.size() <= in.size());
  }
  return 0;
}

int fuzz_peer_request(ByteSpan in) {
  auto d = decode_peer_request(in);
  if (d.ok()) {
    const Bytes re = encode_peer_request(*d.value);
    check(std::memcmp(re.data() + 24, in.data() + 24, 40) == 0);
  }
  return 0;
}

int fuzz_peer_response(ByteSpan in) {
  std::uint64_t expected = 0;
  if (in.size() > 9) expected = in[9];  // a block length chosen by the input itself
  auto d = decode_peer_response_header(in.first(std::min<std::size_t>(in.size(), 9)), expected);
  if (d.ok())
    check(d.value->status == 0 ? d.value->length == expected
                               : d.value->length <= max_error_message);
  return 0;
}

int fuzz_tracker_config(ByteSpan in) {
  std::vector<std::string> warnings;
  try {
    parse_tracker_config(std::string(reinterpret_cast<const char*>(in.data()), in.size()),
                         warnings);
  } catch (const ConfigError&) {
  }
  return 0;
}
// A status-2 message's list of held blocks (peer/holdings_hint.hpp), from any peer: the first two
// bytes give the file's block count (1 to 65536), the rest is the message. What it parses is
// ascending, within the file and the cap; written back as a hint, it parses to a prefix of itself.
int fuzz_holdings_hint(ByteSpan in) {
  const std::size_t skip = std::min<std::size_t>(in.size(), 2);
  const std::uint64_t count = 1 + (skip == 2   ? (std::uint64_t{in[0]} << 8 | in[1])
                                   : skip == 1 ? in[0]
                                               : 0);
  const std::string_view message(reinterpret_cast<const char*>(in.data()) + skip, in.size() - skip);
  const std::vector<std::uint64_t> held = parse_holdings_hint(message, count);
  check(held.size() <= max_hinted_blocks);
  for (std::size_t i = 0; i < held.size(); ++i)
    check(held[i] < count && (i == 0 || held[i - 1] < held[i]));
  std::vector<bool> bits(count, false);
  for (const std::uint64_t b : held) bits[b] = true;
  const std::string text = holdings_hint(bits, held.size());
  check(text.size() <= max_holdings_hint);
  const std::vector<std::uint64_t> back = parse_holdings_hint(text, count);
  check(back.size() <= held.size() && std::equal(back.begin(), back.end(), held.begin()));
  check(held.empty() || held.size() == count || !back.empty());
  return 0;
}

// A journal read back at start-up (peer/journal_format.hpp): the file may be torn or damaged. The
// data file it must speak for is the one its own header names (so mutations reach the snapshot
// and the records), with at most 2^20 blocks (a cascade file's count is bounded too). What it
// accepts must be what a second, plain reading here finds (the snapshot, then each well-formed
// record up to the first that is not), its header must re-encode to the input's, and one byte
// less must never prove more.
int fuzz_journal(ByteSpan in) {
  JournalIdentity id = journal_identity(in).value_or(JournalIdentity{});
  id.block_count = std::min<std::uint64_t>(id.block_count, 1u << 20);
  std::string why;
  const auto bits = decode_journal(in, id, &why);
  if (!bits) {
    check(!why.empty());
    return 0;
  }
  check(bits->size() == id.block_count);
  constexpr std::size_t bitmap_at = 8 + 32 + 6 * 8;  // magic, cascade hash, six u64
  const std::size_t bitmap_size = (id.block_count + 7) / 8;
  std::vector<bool> expected(id.block_count, false);
  for (std::uint64_t b = 0; b < id.block_count; ++b)
    expected[b] = (in[bitmap_at + b / 8] >> (b % 8)) & 1;
  const std::vector<bool> snapshot = expected;
  for (std::size_t at = bitmap_at + bitmap_size + 4; in.size() - at >= 16; at += 16) {
    const std::uint64_t block = load_be64(in.data() + at);
    std::uint8_t named[40];
    std::memcpy(named, id.cascade_hash.data(), 32);
    store_be64(named + 32, block);
    const std::uint32_t crc = std::uint32_t{in[at + 8]} << 24 | std::uint32_t{in[at + 9]} << 16 |
                              std::uint32_t{in[at + 10]} << 8 | in[at + 11];
    if (block >= id.block_count || crc != crc32(ByteSpan(named, sizeof named)) ||
        std::memcmp(in.data() + at + 12, "VRFD", 4) != 0)
      break;
    expected[block] = true;
  }
  check(*bits == expected);
  const Bytes header = encode_journal_header(id, snapshot);
  check(header.size() <= in.size() && std::memcmp(header.data(), in.data(), bitmap_at) == 0);
  const auto shorter = decode_journal(in.first(in.size() - 1), id, nullptr);
  if (in.size() > header.size()) {
    check(shorter.has_value());
    for (std::uint64_t b = 0; b < id.block_count; ++b) check(!(*shorter)[b] || (*bits)[b]);
  }
  const auto again = decode_journal(header, id, nullptr);
  check(again && *again == snapshot);
  return 0;
}
}  // namespace

// The harness table, for the replay main (all targets in one binary).
namespace cascade::fuzz {
using Harness = int (*)(ByteSpan);
Harness find(const std::string& name) {
  if (name == "cascade_file") return fuzz_cascade_file;
  if (name == "tracker_request") return fuzz_tracker_request;
  if (name == "tracker_response") return fuzz_tracker_response;
  if (name == "peer_request") return fuzz_peer_request;
  if (name == "peer_response") return fuzz_peer_response;
  if (name == "tracker_config") return fuzz_tracker_config;
  if (name == "holdings_hint") return fuzz_holdings_hint;
  if (name == "journal") return fuzz_journal;
  return nullptr;
}
}  // namespace cascade::fuzz

// libFuzzer's entry point: scripts/fuzz.sh builds one fuzzer per FUZZ_* target.
#if defined(FUZZ_TARGET)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto harness = cascade::fuzz::find(FUZZ_TARGET);
  return harness(ByteSpan(data, size));
}
#endif
