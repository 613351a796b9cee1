// Fuzzes age key strings (recipients from the config, identity files for verify and restore)
// and the Bech32 under them: what parses formats back to the same text, and errors never
// repeat the text, which may be a secret key.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"
#include "fuzz_input.h"
#include "pipeline/age_keys.h"
#include "pipeline/bech32.h"

using snapd::fuzz::Check;

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

// The secret part of what looks like an identity: the Bech32 data after "AGE-SECRET-KEY-1",
// when long enough that no fixed message text could hold it by chance.
std::string_view SecretPart(std::string_view text) {
  constexpr std::string_view kPrefix = "AGE-SECRET-KEY-1";
  constexpr std::string_view kBech32 =
      "qpzry9x8gf2tvdw0s3jn54khce6mua7lQPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
  const size_t at = text.find(kPrefix);
  if (at == std::string_view::npos) return {};
  std::string_view data = text.substr(at + kPrefix.size());
  data = data.substr(0, std::min(data.find_first_not_of(kBech32), size_t{52}));
  return data.size() >= 24 ? data : std::string_view();
}

// An error about `text` is invalid input and never shows the key's data.
void CheckKeyError(const snapd::Error& e, std::string_view text) {
  Check(e.kind() == snapd::ErrorKind::kInvalidInput, "bad keys are invalid input");
  const std::string_view secret = SecretPart(text);
  if (!secret.empty()) {
    Check(std::string_view(e.what()).find(secret) == std::string_view::npos,
          "key errors never show the key");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = snapd::fuzz::AsText(data, size);
  if (text.size() > 16384) return 0;  // keys and identity files are small

  try {
    const snapd::Bech32String decoded = snapd::Bech32Decode(text);
    const std::string encoded = snapd::Bech32Encode(Lower(decoded.hrp), decoded.data);
    Check(encoded == Lower(text), "Bech32 decodes only its canonical encoding");
  } catch (const snapd::Error& e) {
    CheckKeyError(e, text);
  }
  try {
    const snapd::AgeRecipient recipient = snapd::ParseAgeRecipient(text);
    Check(snapd::FormatAgeRecipient(recipient) == text, "recipients round trip");
  } catch (const snapd::Error& e) {
    CheckKeyError(e, text);
  }
  try {
    const snapd::AgeIdentity identity = snapd::ParseAgeIdentity(text);
    Check(snapd::FormatAgeIdentity(identity) == text, "identities round trip");
    (void)snapd::AgeRecipientOf(identity);
  } catch (const snapd::Error& e) {
    CheckKeyError(e, text);
  }
  try {
    const auto identities = snapd::ParseAgeIdentityFile(text);
    Check(!identities.empty(), "an identity file holds a key");
    Check(identities.size() <= static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1,
          "at most one key a line");
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kInvalidInput, "bad identity files are invalid input");
    // No line's key shows in the message either.
    size_t start = 0;
    while (start < text.size()) {
      const size_t end = std::min(text.find('\n', start), text.size());
      const std::string_view secret = SecretPart(text.substr(start, end - start));
      if (!secret.empty()) {
        Check(std::string_view(e.what()).find(secret) == std::string_view::npos,
              "identity file errors never show a key");
      }
      start = end + 1;
    }
  }
  return 0;
}
