#include "proto/cascade_file.hpp"

#include <algorithm>

namespace cascade {

namespace {
constexpr std::size_t offset_target_size = 16;
constexpr std::size_t offset_block_size = 24;
}  // namespace

Decoded<CascadeFile> decode_cascade_file(ByteSpan in, const CascadeLimits& limits) {
  using D = Decoded<CascadeFile>;
  ByteReader r(in);
  const auto magic = r.array<8>();
  r.bytes(8);  // reserved: ignored when read
  CascadeFile f;
  f.target_size = r.u64();
  f.block_size = r.u64();
  f.target_hash = r.array<32>();
  if (!r.ok()) {
    // Report bad magic before truncation when the magic itself is present and wrong.
    if (in.size() >= magic.size() && magic != cascade_magic)
      return D::fail(ProtoError::bad_magic, 0);
    return D::fail(ProtoError::truncated, r.offset());
  }
  if (magic != cascade_magic) return D::fail(ProtoError::bad_magic, 0);
  if (f.block_size == 0 || f.block_size > limits.max_block_size)
    return D::fail(ProtoError::bad_block_size, offset_block_size);

  const std::uint64_t count = block_count_for(f.target_size, f.block_size);
  constexpr std::uint64_t max_count =
      (std::numeric_limits<std::uint64_t>::max() - cascade_header_size) / cascade_hash_entry_size;
  if (count > max_count) return D::fail(ProtoError::size_overflow, offset_target_size);
  // The table must be present before anything is allocated for it.
  if (r.remaining() / cascade_hash_entry_size < count) {
    const std::size_t whole = r.remaining() / cascade_hash_entry_size;
    return D::fail(ProtoError::truncated, cascade_header_size + whole * cascade_hash_entry_size);
  }
  f.block_hashes.resize(count);
  for (auto& h : f.block_hashes) h = r.array<32>();
  return D{std::move(f), ProtoError::none, 0};
}

Bytes encode_cascade_file(const CascadeFile& file) {
  Bytes out;
  out.reserve(cascade_header_size + file.block_hashes.size() * cascade_hash_entry_size);
  ByteWriter w(out);
  w.bytes(cascade_magic);
  w.zeros(8);
  w.u64(file.target_size);
  w.u64(file.block_size);
  w.bytes(file.target_hash);
  for (const auto& h : file.block_hashes) w.bytes(h);
  return out;
}

}  // namespace cascade
