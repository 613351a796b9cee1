// Bech32 (BIP-173) as age uses it for its key strings: no length limit, one case per string,
// 8-bit data carried in 5-bit groups.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace snapd {

struct Bech32String {
  std::string hrp;            // the human-readable part, in the case it was written in
  std::vector<uint8_t> data;  // the data part as bytes, checksum removed
};

// Lower-case Bech32 of `data` under `hrp` (lower case, printable ASCII).
std::string Bech32Encode(std::string_view hrp, std::span<const uint8_t> data);

// Throws Error::InvalidInput naming the problem (mixed case, bad checksum, ...) but not the
// text itself, which may be a secret key.
Bech32String Bech32Decode(std::string_view text);

}  // namespace snapd
