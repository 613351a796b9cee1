// SHA-256 and HMAC-SHA256 through OpenSSL EVP.
#include "core/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/encoding.h"
#include "core/error.h"

namespace snapd {

struct Sha256::Context {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->ctx = EVP_MD_CTX_new();
  if (context_->ctx == nullptr || EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr) != 1) {
    throw Error::Permanent("sha256: cannot initialise OpenSSL digest");
  }
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(context_->ctx);
}

void Sha256::Update(const void* data, size_t size) {
  if (EVP_DigestUpdate(context_->ctx, data, size) != 1) {
    throw Error::Permanent("sha256: digest update failed");
  }
}

Sha256Digest Sha256::Finish() {
  Sha256Digest digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->ctx, digest.data(), &length) != 1 || length != digest.size()) {
    throw Error::Permanent("sha256: digest final failed");
  }
  return digest;
}

Sha256Digest Sha256::FinishWith(std::string_view more) const {
  Sha256 copy;
  if (EVP_MD_CTX_copy_ex(copy.context_->ctx, context_->ctx) != 1) {
    throw Error::Permanent("sha256: cannot copy digest state");
  }
  copy.Update(more);
  return copy.Finish();
}

Sha256Digest Sha256::Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

std::string Sha256::HexOf(std::string_view data) {
  return DigestHex(Of(data));
}

std::string DigestHex(const Sha256Digest& digest) {
  return HexEncode(digest);
}

Sha256Digest HmacSha256(std::string_view key, std::string_view data) {
  Sha256Digest out{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &length) == nullptr) {
    throw Error::Permanent("hmac-sha256 failed");
  }
  return out;
}

}  // namespace snapd
