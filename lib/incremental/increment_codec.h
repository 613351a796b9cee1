// An increment as a store keeps it: compressed (zstd) and encrypted (age) like the snapshots of
// the same configuration, and back. Increments are small (at most 32 MiB), so whole buffers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/age_keys.h"

namespace snapd {

struct IncrementEncoding {
  bool compress = false;  // zstd (also when the snapshots are zip: k3s never reads increments)
  int zstd_level = 3;
  std::vector<AgeRecipient> recipients;  // empty: not encrypted
};

// The stored bytes of an encoded increment file.
std::string EncodeStoredIncrement(std::string_view plain, const IncrementEncoding& encoding);
// The plain increment file from stored bytes: age-decrypted when `encrypted` (with
// `identities`), then zstd-decompressed when `compressed`. Throws Error::Corrupt when the bytes
// do not decode, Error::InvalidInput when encrypted and no identity is given.
std::string DecodeStoredIncrement(std::string_view stored, bool compressed, bool encrypted,
                                  const std::vector<AgeIdentity>& identities);

}  // namespace snapd
