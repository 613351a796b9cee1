// Hex and base64 codecs used by signing, records and the etcd gateway decoder.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace snapd {

std::string HexEncode(std::span<const uint8_t> bytes);
std::string HexEncode(std::string_view bytes);

std::string Base64Encode(std::string_view bytes);

// Appends the decoded bytes of standard base64 `text` (with or without padding) to `out`.
// Throws Error(kCorrupt) on a character outside the alphabet or a bad length.
void Base64DecodeAppend(std::string_view text, std::string& out);

}  // namespace snapd
