// Decrypts an age v1 stream (ours or one made by `age -r`) with X25519 identities, checking
// the header MAC and every chunk's tag as it reads; holds one 64 KiB chunk at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_source.h"
#include "pipeline/age_keys.h"

namespace snapd {

class AgeDecryptSource final : public ByteSource {
 public:
  // Reads nothing until the first Read.
  AgeDecryptSource(ByteSource& in, std::vector<AgeIdentity> identities);
  ~AgeDecryptSource() override;

  // Throws Error::Corrupt for a malformed header, a failed MAC or tag, or a stream that ends
  // before its last chunk; Error::InvalidInput when no identity opens any of its stanzas.
  size_t Read(char* buffer, size_t size) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Decrypts a small payload (a token file) in one call; same errors as AgeDecryptSource.
std::string AgeDecrypt(std::string_view ciphertext, const std::vector<AgeIdentity>& identities);

}  // namespace snapd
