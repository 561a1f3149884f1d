// The journal's bytes (peer/journal.hpp says why it exists and when it is written): a pure encoder
// and decoder, no I/O, every length checked, so the decoder can be fuzzed as the wire's are.
//
//   header: "CJOURNL2" | cascade hash (32) | target size u64 | device u64 | inode u64 |
//           generation u64 (FS_IOC_GETVERSION) | birth time u64 (ns since the epoch) |
//           (each 0 where the file system keeps none)
//           block count u64 | bitmap (ceil(count / 8) bytes) | CRC-32 of all the above (u32)
//   record: block index u64 | CRC-32 of (cascade hash, block index) u32 | "VRFD"
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/cascade_file.hpp"

namespace cascade {

std::uint32_t crc32(ByteSpan data, std::uint32_t crc = 0);

// The data file a journal speaks for.
struct JournalIdentity {
  Hash256 cascade_hash{};
  std::uint64_t target_size = 0, device = 0, inode = 0, generation = 0, birth_ns = 0,
                block_count = 0;
};

inline constexpr std::size_t journal_record_size = 16;

// A header whose snapshot holds `bits` (bits.size() <= id.block_count).
Bytes encode_journal_header(const JournalIdentity& id, const std::vector<bool>& bits);
// Appends the record saying `block` is verified and durable.
void encode_journal_record(const Hash256& cascade_hash, std::uint64_t block, Bytes& out);

// The identity a journal's header names (whatever its magic), or nullopt if it is too short.
std::optional<JournalIdentity> journal_identity(ByteSpan in);

// The blocks a journal proves verified for the data file `id`: its snapshot, then its records up
// to the first torn or corrupt one (a damaged tail is where a crash struck). nullopt, with `why`
// set, when it is not a journal, is damaged in its header, or speaks for another file.
// `id.block_count` is the cascade file's own (bounded by its limits).
std::optional<std::vector<bool>> decode_journal(ByteSpan in, const JournalIdentity& id,
                                                std::string* why);

}  // namespace cascade
