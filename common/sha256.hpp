// SHA-256 through OpenSSL's EVP interface (uses the CPU's SHA extensions where present).
#pragma once

#include <memory>

#include "proto/byte_io.hpp"
#include "proto/cascade_file.hpp"

namespace cascade {

// Incremental hasher. Not thread-safe; one per thread or per job. Move-only (owns an EVP_MD_CTX).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(ByteSpan data);
  // Returns the digest and resets the hasher for a new message.
  Hash256 finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// One-shot SHA-256 of a byte range.
Hash256 sha256(ByteSpan data);

// Hashes a Hash256 for unordered containers. Clients choose the hashes (a tracker keeps a swarm
// per cascade hash any client names), so every byte counts, mixed under a key drawn at random per
// process: hashes crafted to share some of their bytes do not pile into one bucket (hash flooding,
// which would make each request take time in proportion to the swarms).
struct HashKey {
  std::size_t operator()(const Hash256& h) const noexcept;
};

}  // namespace cascade
