#include "common/sha256.hpp"

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>

namespace cascade {

namespace {
// Fetched once: an implicit fetch on every init costs a provider lookup.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw std::runtime_error("OpenSSL: SHA256 is not available");
  return md;
}
}  // namespace

struct Sha256::Ctx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  if (ctx_->ctx == nullptr || EVP_DigestInit_ex(ctx_->ctx, sha256_md(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(ByteSpan data) {
  if (EVP_DigestUpdate(ctx_->ctx, data.data(), data.size()) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
}

Hash256 Sha256::finish() {
  Hash256 out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->ctx, out.data(), &len) != 1 || len != out.size() ||
      EVP_DigestInit_ex(ctx_->ctx, sha256_md(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 final failed");
  return out;
}

Hash256 sha256(ByteSpan data) {
  Hash256 out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, sha256_md(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  return out;
}

namespace {
// splitmix64's finaliser: every input bit moves about half the output bits.
std::uint64_t mix(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
const std::uint64_t hash_key_seed = [] {
  std::random_device device;
  return std::uint64_t{device()} << 32 | device();
}();
}  // namespace

std::size_t HashKey::operator()(const Hash256& h) const noexcept {
  std::uint64_t v = hash_key_seed;
  for (std::size_t i = 0; i < h.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, h.data() + i, 8);
    v = mix(v ^ word);
  }
  return static_cast<std::size_t>(v);
}

}  // namespace cascade
