// Cascade files (PROTOCOL.md section 1): a header and one SHA-256 per block of a data file.
//
//   0  magic "CASCADE1" | 8 reserved | 16 target size | 24 block size | 32 SHA-256 of the file
//   64 SHA-256 of block 0, block 1, ... (32 bytes each); bytes after the last one are ignored.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "proto/byte_io.hpp"
#include "proto/errors.hpp"

namespace cascade {

using Hash256 = std::array<std::uint8_t, 32>;

inline constexpr std::size_t cascade_header_size = 64;
inline constexpr std::size_t cascade_hash_entry_size = 32;
inline constexpr std::array<std::uint8_t, 8> cascade_magic = {'C', 'A', 'S', 'C',
                                                              'A', 'D', 'E', '1'};

// ceil(target_size / block_size); block_size must not be 0.
constexpr std::uint64_t block_count_for(std::uint64_t target_size, std::uint64_t block_size) {
  return target_size / block_size + (target_size % block_size != 0 ? 1 : 0);
}

struct CascadeFile {
  std::uint64_t target_size = 0;  // bytes in the data file
  std::uint64_t block_size = 0;   // bytes per block, except possibly the last
  Hash256 target_hash{};          // SHA-256 of the whole data file
  std::vector<Hash256> block_hashes;

  std::uint64_t block_count() const { return block_hashes.size(); }
  std::uint64_t block_offset(std::uint64_t index) const { return index * block_size; }
  // Length of block `index` (< block_count()): block_size, or what is left for the last one.
  std::uint64_t block_length(std::uint64_t index) const {
    const std::uint64_t start = block_offset(index);
    return target_size - start < block_size ? target_size - start : block_size;
  }
  bool operator==(const CascadeFile&) const = default;
};

// What a reader is willing to accept; the defaults accept anything the format can express.
struct CascadeLimits {
  std::uint64_t max_block_size = std::numeric_limits<std::uint64_t>::max();
};

// Decodes a cascade file. Errors: truncated (offset = where the bytes ran out), bad_magic (0),
// bad_block_size (24), size_overflow (16). Allocation is bounded by the input's own size.
Decoded<CascadeFile> decode_cascade_file(ByteSpan in, const CascadeLimits& limits = {});

// Encodes a cascade file; the reserved field is written as zeros.
Bytes encode_cascade_file(const CascadeFile& file);

}  // namespace cascade
