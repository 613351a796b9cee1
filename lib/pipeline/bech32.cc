// Bech32 encoding and decoding after BIP-173, without its 90-character limit (as age specifies).
#include "pipeline/bech32.h"

#include <array>

#include "core/error.h"

namespace snapd {
namespace {

constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr size_t kChecksumLength = 6;

uint32_t Polymod(const std::vector<uint8_t>& values) {
  constexpr std::array<uint32_t, 5> kGenerator = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                                  0x2a1462b3};
  uint32_t checksum = 1;
  for (uint8_t value : values) {
    uint32_t top = checksum >> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ value;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) checksum ^= kGenerator[i];
    }
  }
  return checksum;
}

char ToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The checksum covers the lower-case HRP, whatever case the string is written in.
std::vector<uint8_t> ExpandHrp(std::string_view hrp) {
  std::vector<uint8_t> out;
  out.reserve(hrp.size() * 2 + 1);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(ToLower(c)) >> 5);
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(ToLower(c)) & 31);
  return out;
}

bool IsPrintable(char c) {
  return c >= 33 && c <= 126;
}

}  // namespace

std::string Bech32Encode(std::string_view hrp, std::span<const uint8_t> data) {
  if (hrp.empty()) throw Error::InvalidInput("bech32: empty human-readable part");
  for (char c : hrp) {
    if (!IsPrintable(c) || ToLower(c) != c) {
      throw Error::InvalidInput("bech32: human-readable part must be printable lower-case ASCII");
    }
  }
  std::vector<uint8_t> values;
  values.reserve(data.size() * 8 / 5 + 1);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t byte : data) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      values.push_back((acc >> bits) & 31);
    }
  }
  if (bits > 0) values.push_back((acc << (5 - bits)) & 31);

  std::vector<uint8_t> checked = ExpandHrp(hrp);
  checked.insert(checked.end(), values.begin(), values.end());
  checked.insert(checked.end(), kChecksumLength, 0);
  uint32_t polymod = Polymod(checked) ^ 1;

  std::string out(hrp);
  out.push_back('1');
  for (uint8_t value : values) out.push_back(kCharset[value]);
  for (size_t i = 0; i < kChecksumLength; ++i) {
    out.push_back(kCharset[(polymod >> (5 * (kChecksumLength - 1 - i))) & 31]);
  }
  return out;
}

Bech32String Bech32Decode(std::string_view text) {
  bool has_lower = false;
  bool has_upper = false;
  for (char c : text) {
    if (!IsPrintable(c)) throw Error::InvalidInput("bech32: character outside printable ASCII");
    has_lower |= (c >= 'a' && c <= 'z');
    has_upper |= (c >= 'A' && c <= 'Z');
  }
  if (has_lower && has_upper) throw Error::InvalidInput("bech32: mixed upper and lower case");
  size_t separator = text.rfind('1');
  if (separator == std::string_view::npos) throw Error::InvalidInput("bech32: no separator '1'");
  if (separator == 0) throw Error::InvalidInput("bech32: empty human-readable part");
  if (text.size() - separator - 1 < kChecksumLength) {
    throw Error::InvalidInput("bech32: data part shorter than the checksum");
  }

  Bech32String out;
  out.hrp = std::string(text.substr(0, separator));
  std::vector<uint8_t> checked = ExpandHrp(out.hrp);
  size_t first_value = checked.size();
  for (char c : text.substr(separator + 1)) {
    size_t value = kCharset.find(ToLower(c));
    if (value == std::string_view::npos) {
      throw Error::InvalidInput("bech32: character outside the data alphabet");
    }
    checked.push_back(static_cast<uint8_t>(value));
  }
  if (Polymod(checked) != 1) throw Error::InvalidInput("bech32: checksum mismatch");

  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = first_value; i < checked.size() - kChecksumLength; ++i) {
    acc = (acc << 5) | checked[i];
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.data.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  // The 5-bit groups may only pad the last byte with fewer than 5 zero bits.
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) {
    throw Error::InvalidInput("bech32: invalid padding in the data part");
  }
  return out;
}

}  // namespace snapd
