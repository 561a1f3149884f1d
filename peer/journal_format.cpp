#include "peer/journal_format.hpp"

#include <array>
#include <cstring>

#include "proto/byte_io.hpp"

namespace cascade {

namespace {
constexpr std::array<std::uint8_t, 8> journal_magic = {'C', 'J', 'O', 'U', 'R', 'N', 'L', '2'};
// The format before the birth time: its identity cannot tell a replaced data file.
constexpr std::array<std::uint8_t, 8> old_magic = {'C', 'J', 'O', 'U', 'R', 'N', 'L', '1'};
constexpr std::array<std::uint8_t, 4> record_tag = {'V', 'R', 'F', 'D'};

JournalIdentity read_identity(ByteReader& r) {
  JournalIdentity id;
  id.cascade_hash = r.array<32>();
  id.target_size = r.u64();
  id.device = r.u64();
  id.inode = r.u64();
  id.generation = r.u64();
  id.birth_ns = r.u64();
  id.block_count = r.u64();
  return id;
}

std::uint32_t record_check(const Hash256& hash, std::uint64_t block) {
  std::array<std::uint8_t, 40> in{};
  std::memcpy(in.data(), hash.data(), hash.size());
  store_be64(in.data() + 32, block);
  return crc32(in);
}
}  // namespace

std::uint32_t crc32(ByteSpan data, std::uint32_t crc) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::uint8_t b : data) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

Bytes encode_journal_header(const JournalIdentity& id, const std::vector<bool>& bits) {
  Bytes out;
  ByteWriter w(out);
  w.bytes(journal_magic);
  w.bytes(id.cascade_hash);
  w.u64(id.target_size);
  w.u64(id.device);
  w.u64(id.inode);
  w.u64(id.generation);
  w.u64(id.birth_ns);
  w.u64(id.block_count);
  Bytes bitmap((id.block_count + 7) / 8, 0);
  for (std::uint64_t b = 0; b < bits.size(); ++b)
    if (bits[b]) bitmap[b / 8] |= static_cast<std::uint8_t>(1u << (b % 8));
  w.bytes(bitmap);
  w.u32(crc32(out));
  return out;
}

void encode_journal_record(const Hash256& cascade_hash, std::uint64_t block, Bytes& out) {
  ByteWriter w(out);
  w.u64(block);
  w.u32(record_check(cascade_hash, block));
  w.bytes(record_tag);
}

std::optional<JournalIdentity> journal_identity(ByteSpan in) {
  ByteReader r(in);
  r.array<8>();
  const JournalIdentity id = read_identity(r);
  if (!r.ok()) return std::nullopt;
  return id;
}

std::optional<std::vector<bool>> decode_journal(ByteSpan in, const JournalIdentity& id,
                                                std::string* why) {
  ByteReader r(in);
  const auto magic = r.array<8>();
  const JournalIdentity got = read_identity(r);
  auto fail = [&](const char* reason) -> std::optional<std::vector<bool>> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (magic == old_magic) return fail("written by an older version of this program");
  if (!r.ok() || magic != journal_magic) return fail("not a cascade journal");
  if (got.cascade_hash != id.cascade_hash || got.target_size != id.target_size ||
      got.block_count != id.block_count)
    return fail("it belongs to another cascade file");
  if (got.device != id.device || got.inode != id.inode || got.generation != id.generation ||
      got.birth_ns != id.birth_ns)
    return fail("the data file was replaced since it was written");
  const ByteSpan bitmap = r.bytes((id.block_count + 7) / 8);
  const std::size_t header_end = r.offset();
  const std::uint32_t check = r.u32();
  if (!r.ok() || check != crc32(in.first(header_end))) return fail("its header is damaged");
  std::vector<bool> bits(id.block_count, false);
  for (std::uint64_t b = 0; b < id.block_count; ++b) bits[b] = (bitmap[b / 8] >> (b % 8)) & 1;
  while (r.remaining() >= journal_record_size) {
    const std::uint64_t block = r.u64();
    const std::uint32_t crc = r.u32();
    const auto tag = r.array<4>();
    if (tag != record_tag || block >= id.block_count || crc != record_check(id.cascade_hash, block))
      break;
    bits[block] = true;
  }
  return bits;
}

}  // namespace cascade
