// The age v1 header (version line, recipient stanzas, MAC), the X25519 stanza and the payload's
// key schedule; shared by the age encrypt and decrypt stages and their tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "pipeline/age_keys.h"
#include "pipeline/age_primitives.h"

namespace snapd::age {

constexpr std::string_view kVersionLine = "age-encryption.org/v1";
constexpr size_t kFileKeySize = 16;
constexpr size_t kPayloadNonceSize = 16;
constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kSealedChunkSize = kChunkSize + kAeadTagSize;
// Bounds what a reader buffers before it can check the MAC; an X25519 stanza takes ~100 bytes.
constexpr size_t kMaxHeaderSize = 64 * 1024;

using FileKey = std::array<uint8_t, kFileKeySize>;
using PayloadNonce = std::array<uint8_t, kPayloadNonceSize>;

struct Stanza {
  std::vector<std::string> args;  // args[0] is the recipient type, e.g. "X25519"
  std::string body;
};

// Standard base64 without padding, as age writes it everywhere.
std::string EncodeBase64(std::span<const uint8_t> bytes);
// Appends to `out`; false on padding, a character outside the alphabet, an impossible length
// or non-zero unused bits (age accepts only the canonical encoding).
bool DecodeBase64(std::string_view text, std::string& out);

// The arguments line, then the body wrapped at 64 columns, ending in a shorter (maybe empty)
// line.
std::string FormatStanza(const Stanza& stanza);
// The whole header: version line, stanzas, and the MAC line.
std::string FormatHeader(const FileKey& file_key, const std::vector<Stanza>& stanzas);
// HMAC of the header text from the version line up to and including the "---" mark.
Sha256Digest HeaderMac(const FileKey& file_key, std::string_view header_through_dashes);

// Parses a header one line at a time (each without its '\n'); throws Error::Corrupt at the
// first line that breaks the header grammar.
class HeaderParser {
 public:
  // True once the MAC line has been taken; no line may follow it.
  bool AddLine(std::string_view line);

  const std::vector<Stanza>& stanzas() const { return stanzas_; }
  const Sha256Digest& mac() const { return mac_; }

 private:
  enum class Expect { kVersion, kStanzaOrMac, kBody, kNothing };
  Expect expect_ = Expect::kVersion;
  size_t line_number_ = 0;
  std::vector<Stanza> stanzas_;
  Sha256Digest mac_{};
};

// A new X25519 stanza wrapping `file_key` to `recipient`. Throws Error::InvalidInput when the
// recipient is a low-order point.
Stanza WrapX25519(const FileKey& file_key, const AgeRecipient& recipient);
// The file key when `stanza` is an X25519 stanza that `identity` opens; nullopt when it is of
// another type or for another key. Throws Error::Corrupt when it is a malformed X25519 stanza.
std::optional<FileKey> UnwrapX25519(const Stanza& stanza, const AgeIdentity& identity);

// The STREAM payload: its key, and each chunk's nonce (11-byte big-endian counter, then 0x01
// on the last chunk and 0x00 before).
Key32 PayloadKey(const FileKey& file_key, const PayloadNonce& nonce);
AeadNonce ChunkNonce(uint64_t counter, bool last);

}  // namespace snapd::age
