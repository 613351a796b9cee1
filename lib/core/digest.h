// SHA-256 (incremental) and HMAC-SHA256 on OpenSSL's EVP interface.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace snapd {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Ends the computation; the object may not be updated afterwards.
  Sha256Digest Finish();
  // The digest of everything so far followed by `more`, leaving this computation as it was:
  // two digests of a common prefix for the price of one pass.
  Sha256Digest FinishWith(std::string_view more) const;

  static Sha256Digest Of(std::string_view data);
  static std::string HexOf(std::string_view data);

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string DigestHex(const Sha256Digest& digest);

Sha256Digest HmacSha256(std::string_view key, std::string_view data);

}  // namespace snapd
