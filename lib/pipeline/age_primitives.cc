// OpenSSL 3 EVP calls behind age's primitives; every return code is checked and key material
// in temporaries is wiped.
#include "pipeline/age_primitives.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>
#include <string>

#include "core/error.h"

namespace snapd::age {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyContextFree {
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
};
struct KdfFree {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
};
struct KdfContextFree {
  void operator()(EVP_KDF_CTX* context) const { EVP_KDF_CTX_free(context); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

[[noreturn]] void ThrowOpenSsl(const std::string& what) {
  throw Error::Permanent("age: OpenSSL " + what + " failed");
}

Pkey X25519SecretKey(const Key32& secret) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()));
  if (!key) ThrowOpenSsl("X25519 private key import");
  return key;
}

}  // namespace

void Wipe(std::span<uint8_t> bytes) {
  OPENSSL_cleanse(bytes.data(), bytes.size());
}

void RandomBytes(std::span<uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) ThrowOpenSsl("RAND_bytes");
}

Key32 X25519PublicKey(const Key32& secret) {
  Pkey key = X25519SecretKey(secret);
  Key32 public_key{};
  size_t length = public_key.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), public_key.data(), &length) != 1 ||
      length != public_key.size()) {
    ThrowOpenSsl("X25519 public key");
  }
  return public_key;
}

bool X25519SharedSecret(const Key32& secret, const Key32& peer_public, Key32& shared) {
  Pkey key = X25519SecretKey(secret);
  Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(),
                                        peer_public.size()));
  if (!peer) ThrowOpenSsl("X25519 public key import");
  std::unique_ptr<EVP_PKEY_CTX, PkeyContextFree> context(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!context || EVP_PKEY_derive_init(context.get()) != 1) ThrowOpenSsl("X25519 derive init");
  // Validation of the peer is age's own all-zero check below; OpenSSL's derive also refuses
  // an all-zero result, which is the same condition.
  if (EVP_PKEY_derive_set_peer_ex(context.get(), peer.get(), 0) != 1) {
    ThrowOpenSsl("X25519 derive peer");
  }
  size_t length = shared.size();
  if (EVP_PKEY_derive(context.get(), shared.data(), &length) != 1 || length != shared.size()) {
    OPENSSL_cleanse(shared.data(), shared.size());
    return false;
  }
  uint8_t any = 0;
  for (uint8_t byte : shared) any |= byte;
  return any != 0;
}

Key32 HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                 std::string_view info) {
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
  if (!kdf) ThrowOpenSsl("HKDF fetch");
  std::unique_ptr<EVP_KDF_CTX, KdfContextFree> context(EVP_KDF_CTX_new(kdf.get()));
  if (!context) ThrowOpenSsl("HKDF context");

  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  const_cast<uint8_t*>(ikm.data()), ikm.size());
  // HKDF-Extract with no salt is keyed with zeros, which is what an empty salt means.
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<uint8_t*>(salt.data()), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  const_cast<char*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();

  Key32 out{};
  if (EVP_KDF_derive(context.get(), out.data(), out.size(), params) != 1) {
    ThrowOpenSsl("HKDF derive");
  }
  return out;
}

ChaCha20Poly1305::ChaCha20Poly1305(const Key32& key) : key_(key), context_(EVP_CIPHER_CTX_new()) {
  if (context_ == nullptr) ThrowOpenSsl("cipher context");
}

ChaCha20Poly1305::~ChaCha20Poly1305() {
  EVP_CIPHER_CTX_free(context_);
  OPENSSL_cleanse(key_.data(), key_.size());
}

void ChaCha20Poly1305::Begin(const AeadNonce& nonce, bool encrypt) {
  // The default nonce length of this cipher is the 12 bytes age uses.
  if (EVP_CipherInit_ex(context_, EVP_chacha20_poly1305(), nullptr, key_.data(), nonce.data(),
                        encrypt ? 1 : 0) != 1) {
    ThrowOpenSsl("ChaCha20-Poly1305 init");
  }
}

void ChaCha20Poly1305::Seal(const AeadNonce& nonce, std::span<const uint8_t> plaintext,
                            uint8_t* out) {
  Begin(nonce, true);
  int length = 0;
  if (!plaintext.empty() && (EVP_CipherUpdate(context_, out, &length, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1 ||
                             static_cast<size_t>(length) != plaintext.size())) {
    ThrowOpenSsl("ChaCha20-Poly1305 encrypt");
  }
  int final_length = 0;
  if (EVP_CipherFinal_ex(context_, out + plaintext.size(), &final_length) != 1 ||
      final_length != 0) {
    ThrowOpenSsl("ChaCha20-Poly1305 encrypt final");
  }
  if (EVP_CIPHER_CTX_ctrl(context_, EVP_CTRL_AEAD_GET_TAG, kAeadTagSize, out + plaintext.size()) !=
      1) {
    ThrowOpenSsl("ChaCha20-Poly1305 tag");
  }
}

bool ChaCha20Poly1305::Open(const AeadNonce& nonce, std::span<const uint8_t> ciphertext,
                            uint8_t* out) {
  if (ciphertext.size() < kAeadTagSize) return false;
  size_t body = ciphertext.size() - kAeadTagSize;
  Begin(nonce, false);
  int length = 0;
  if (body > 0 &&
      (EVP_CipherUpdate(context_, out, &length, ciphertext.data(), static_cast<int>(body)) != 1 ||
       static_cast<size_t>(length) != body)) {
    ThrowOpenSsl("ChaCha20-Poly1305 decrypt");
  }
  // Read after the update: an in-place decryption writes only over the body, not the tag.
  if (EVP_CIPHER_CTX_ctrl(context_, EVP_CTRL_AEAD_SET_TAG, kAeadTagSize,
                          const_cast<uint8_t*>(ciphertext.data() + body)) != 1) {
    ThrowOpenSsl("ChaCha20-Poly1305 set tag");
  }
  int final_length = 0;
  return EVP_CipherFinal_ex(context_, out + body, &final_length) == 1 && final_length == 0;
}

}  // namespace snapd::age
