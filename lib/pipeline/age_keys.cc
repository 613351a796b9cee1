// age X25519 key strings: Bech32 under "age" for recipients and "AGE-SECRET-KEY-" (written
// in upper case) for identities, as age and age-keygen read and write them.
#include "pipeline/age_keys.h"

#include <algorithm>

#include "core/error.h"
#include "pipeline/age_primitives.h"
#include "pipeline/bech32.h"

namespace snapd {
namespace {

constexpr std::string_view kRecipientHrp = "age";
constexpr std::string_view kIdentityHrp = "AGE-SECRET-KEY-";
constexpr std::string_view kPluginIdentityPrefix = "AGE-PLUGIN-";

std::array<uint8_t, 32> DecodeKey(std::string_view text, std::string_view hrp,
                                  std::string_view what) {
  Bech32String decoded;
  try {
    decoded = Bech32Decode(text);
  } catch (const Error& e) {
    throw e.WithContext("age " + std::string(what));
  }
  std::array<uint8_t, 32> key{};
  // age compares the HRP as written: recipients are lower case, identities upper case.
  if (decoded.hrp != hrp) {
    age::Wipe(decoded.data);
    throw Error::InvalidInput("age " + std::string(what) + ": does not start with " +
                              std::string(hrp) + "1");
  }
  if (decoded.data.size() != key.size()) {
    age::Wipe(decoded.data);
    throw Error::InvalidInput("age " + std::string(what) + ": key is not 32 bytes");
  }
  std::copy(decoded.data.begin(), decoded.data.end(), key.begin());
  age::Wipe(decoded.data);
  return key;
}

std::string_view TrimLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

}  // namespace

AgeRecipient ParseAgeRecipient(std::string_view text) {
  return AgeRecipient{DecodeKey(text, kRecipientHrp, "recipient")};
}

AgeIdentity ParseAgeIdentity(std::string_view text) {
  return AgeIdentity{DecodeKey(text, kIdentityHrp, "identity")};
}

std::vector<AgeIdentity> ParseAgeIdentityFile(std::string_view text) {
  std::vector<AgeIdentity> identities;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t end = text.find('\n');
    std::string_view line = TrimLine(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty() || line.starts_with('#')) continue;
    if (line.starts_with(kPluginIdentityPrefix)) {
      throw Error::InvalidInput("age identity file line " + std::to_string(line_number) +
                                ": age plugin identities are not supported");
    }
    try {
      identities.push_back(ParseAgeIdentity(line));
    } catch (const Error& e) {
      throw e.WithContext("age identity file line " + std::to_string(line_number));
    }
  }
  if (identities.empty()) throw Error::InvalidInput("age identity file: no AGE-SECRET-KEY-1 line");
  return identities;
}

std::string FormatAgeRecipient(const AgeRecipient& recipient) {
  return Bech32Encode(kRecipientHrp, recipient.public_key);
}

std::string FormatAgeIdentity(const AgeIdentity& identity) {
  std::string text = Bech32Encode("age-secret-key-", identity.secret_key);
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; });
  return text;
}

AgeRecipient AgeRecipientOf(const AgeIdentity& identity) {
  return AgeRecipient{age::X25519PublicKey(identity.secret_key)};
}

AgeIdentity GenerateAgeIdentity() {
  AgeIdentity identity;
  age::RandomBytes(identity.secret_key);
  return identity;
}

}  // namespace snapd
