// Encrypts a stream in the age v1 format (https://age-encryption.org/v1) to X25519
// recipients, so `age -d -i KEY` decrypts it. Built on OpenSSL's X25519, HKDF-SHA256, HMAC
// and ChaCha20-Poly1305; holds one 64 KiB chunk at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/age_keys.h"
#include "pipeline/stream_stage.h"

namespace snapd {

class AgeEncryptSink final : public EncodingSink {
 public:
  // Throws Error::InvalidInput when `recipients` is empty.
  AgeEncryptSink(ByteSink& out, const std::vector<AgeRecipient>& recipients);
  ~AgeEncryptSink() override;

  void Write(std::string_view chunk) override;
  void Finish() override;  // seals the last chunk (possibly empty) with the last-chunk flag

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Encrypts a small payload (a token file) in one call.
std::string AgeEncrypt(std::string_view plaintext, const std::vector<AgeRecipient>& recipients);

}  // namespace snapd
