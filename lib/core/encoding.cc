// Hex and base64 codecs.
#include "core/encoding.h"

#include <array>

#include "core/error.h"

namespace snapd {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeBase64Table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kBase64Alphabet[i])] = int8_t(i);
  return table;
}
constexpr std::array<int8_t, 256> kBase64Table = MakeBase64Table();

// For the decoder's hot loop: each character's 6 bits already shifted to their place in a
// 4-character group, so a group is four loads and three ORs; a character outside the alphabet
// sets bit 24, which no valid group has.
constexpr uint32_t kBase64Bad = 1u << 24;
struct Base64Shifted {
  std::array<uint32_t, 256> at[4];
};
constexpr Base64Shifted MakeBase64Shifted() {
  Base64Shifted shifted{};
  for (int c = 0; c < 256; ++c) {
    for (int i = 0; i < 4; ++i) {
      shifted.at[i][c] =
          kBase64Table[c] < 0 ? kBase64Bad : uint32_t(kBase64Table[c]) << (18 - 6 * i);
    }
  }
  return shifted;
}
constexpr Base64Shifted kBase64Shifted = MakeBase64Shifted();

}  // namespace

std::string HexEncode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xf]);
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  return HexEncode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (rest == 2) v |= uint8_t(bytes[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

void Base64DecodeAppend(std::string_view text, std::string& out) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) throw Error::Corrupt("base64: invalid length");
  // Whole groups of four into three bytes written in place: this runs over every byte of a
  // gateway snapshot, so no per-byte push_back or branch.
  const size_t groups = text.size() / 4;
  const size_t rest = text.size() % 4;  // 0, 2 or 3 characters: 0, 1 or 2 bytes
  const size_t start = out.size();
  out.resize(start + groups * 3 + (rest == 0 ? 0 : rest - 1));
  auto* dst = reinterpret_cast<uint8_t*>(out.data() + start);
  const auto* src = reinterpret_cast<const uint8_t*>(text.data());
  const auto& at = kBase64Shifted.at;
  uint32_t bad = 0;  // kBase64Bad once any character was not in the alphabet
  for (size_t g = 0; g < groups; ++g, src += 4, dst += 3) {
    const uint32_t v = at[0][src[0]] | at[1][src[1]] | at[2][src[2]] | at[3][src[3]];
    bad |= v;
    dst[0] = uint8_t(v >> 16);
    dst[1] = uint8_t(v >> 8);
    dst[2] = uint8_t(v);
  }
  if (rest >= 2) {
    const uint32_t v = at[0][src[0]] | at[1][src[1]] | (rest == 3 ? at[2][src[2]] : 0);
    bad |= v;
    dst[0] = uint8_t(v >> 16);
    if (rest == 3) dst[1] = uint8_t(v >> 8);
  }
  if (bad & kBase64Bad) {
    out.resize(start);
    throw Error::Corrupt("base64: invalid character");
  }
}

}  // namespace snapd
