// age X25519 keys: recipients (`age1...`) and identities (`AGE-SECRET-KEY-1...`), parsed from
// their Bech32 text forms as `age-keygen` writes them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace snapd {

struct AgeRecipient {
  std::array<uint8_t, 32> public_key{};
};

struct AgeIdentity {
  std::array<uint8_t, 32> secret_key{};
};

// Throws Error::InvalidInput naming the text's problem (not the key itself when secret).
AgeRecipient ParseAgeRecipient(std::string_view text);
AgeIdentity ParseAgeIdentity(std::string_view text);
// An identity file as age-keygen writes it: `#` comments, blank lines, one key per line.
// Throws Error::InvalidInput (with the line number) on a bad line or when it holds no key.
std::vector<AgeIdentity> ParseAgeIdentityFile(std::string_view text);

std::string FormatAgeRecipient(const AgeRecipient& recipient);  // "age1..."
std::string FormatAgeIdentity(const AgeIdentity& identity);     // "AGE-SECRET-KEY-1..."
AgeRecipient AgeRecipientOf(const AgeIdentity& identity);
AgeIdentity GenerateAgeIdentity();

}  // namespace snapd
