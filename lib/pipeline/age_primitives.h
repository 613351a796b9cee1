// The OpenSSL primitives age is built from (X25519, HKDF-SHA256, ChaCha20-Poly1305, CSPRNG),
// wrapped with checked return codes; internal to the age stages and their tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <openssl/types.h>

namespace snapd::age {

using Key32 = std::array<uint8_t, 32>;
using AeadNonce = std::array<uint8_t, 12>;
constexpr size_t kAeadTagSize = 16;

// Overwrites key material so it does not outlive its use (OPENSSL_cleanse).
void Wipe(std::span<uint8_t> bytes);

// Wipes the given bytes when it goes out of scope, whichever way the scope is left.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::span<uint8_t> bytes) : bytes_(bytes) {}
  ~WipeOnExit() { Wipe(bytes_); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::span<uint8_t> bytes_;
};

// Fills `out` from OpenSSL's CSPRNG; throws Error::Permanent when it cannot.
void RandomBytes(std::span<uint8_t> out);

// X25519(scalar, basepoint): the public key of a secret key.
Key32 X25519PublicKey(const Key32& secret);
// X25519(scalar, point). Returns false when the result is all zero (a low-order point), which
// age requires refusing.
bool X25519SharedSecret(const Key32& secret, const Key32& peer_public, Key32& shared);

// HKDF-SHA256 (extract with `salt`, then expand with `info`) to 32 bytes; an empty salt is
// RFC 5869's default of hash-length zeros.
Key32 HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                 std::string_view info);

// ChaCha20-Poly1305 (RFC 7539) under one key, for many messages. Output buffers may alias
// their input exactly (in place) but must not otherwise overlap it.
class ChaCha20Poly1305 {
 public:
  explicit ChaCha20Poly1305(const Key32& key);
  ~ChaCha20Poly1305();
  ChaCha20Poly1305(const ChaCha20Poly1305&) = delete;
  ChaCha20Poly1305& operator=(const ChaCha20Poly1305&) = delete;

  // Writes plaintext.size() + kAeadTagSize bytes to `out`.
  void Seal(const AeadNonce& nonce, std::span<const uint8_t> plaintext, uint8_t* out);
  // Writes ciphertext.size() - kAeadTagSize bytes to `out`; returns false when the
  // ciphertext is shorter than a tag or fails authentication (`out` then holds garbage).
  bool Open(const AeadNonce& nonce, std::span<const uint8_t> ciphertext, uint8_t* out);

 private:
  void Begin(const AeadNonce& nonce, bool encrypt);

  Key32 key_;
  EVP_CIPHER_CTX* context_;
};

}  // namespace snapd::age
