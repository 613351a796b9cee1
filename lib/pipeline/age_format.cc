// age v1 header grammar, X25519 stanzas and payload keys (https://age-encryption.org/v1).
#include "pipeline/age_format.h"

#include <algorithm>

#include "core/encoding.h"
#include "core/error.h"

namespace snapd::age {
namespace {

constexpr std::string_view kX25519Type = "X25519";
constexpr std::string_view kX25519Label = "age-encryption.org/v1/X25519";
constexpr std::string_view kArmorBegin = "-----BEGIN AGE ENCRYPTED FILE-----";
constexpr size_t kColumnsPerLine = 64;
constexpr size_t kMacBase64Size = 43;  // 32 bytes, unpadded

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  size_t i = kBase64Alphabet.find(c);
  return i == std::string_view::npos ? -1 : static_cast<int>(i);
}

std::span<const uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// age's argument grammar: 1*VCHAR.
bool IsValidArgument(std::string_view arg) {
  if (arg.empty()) return false;
  for (char c : arg) {
    if (c < 33 || c > 126) return false;
  }
  return true;
}

Error HeaderError(size_t line_number, const std::string& what) {
  return Error::Corrupt("age header line " + std::to_string(line_number) + ": " + what);
}

}  // namespace

std::string EncodeBase64(std::span<const uint8_t> bytes) {
  std::string out =
      Base64Encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

bool DecodeBase64(std::string_view text, std::string& out) {
  if (text.size() % 4 == 1) return false;
  std::string decoded;
  decoded.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int value = Base64Value(c);
    if (value < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return false;  // non-canonical unused bits
  out += decoded;
  return true;
}

std::string FormatStanza(const Stanza& stanza) {
  std::string out = "->";
  for (const std::string& arg : stanza.args) out += " " + arg;
  out += "\n";
  std::string body = EncodeBase64(Bytes(stanza.body));
  size_t pos = 0;
  for (; body.size() - pos >= kColumnsPerLine; pos += kColumnsPerLine) {
    out.append(body, pos, kColumnsPerLine);
    out += "\n";
  }
  out.append(body, pos);
  out += "\n";
  return out;
}

Sha256Digest HeaderMac(const FileKey& file_key, std::string_view header_through_dashes) {
  Key32 mac_key = HkdfSha256(file_key, {}, "header");
  WipeOnExit wipe(mac_key);
  return HmacSha256(std::string_view(reinterpret_cast<const char*>(mac_key.data()), mac_key.size()),
                    header_through_dashes);
}

std::string FormatHeader(const FileKey& file_key, const std::vector<Stanza>& stanzas) {
  std::string header(kVersionLine);
  header += "\n";
  for (const Stanza& stanza : stanzas) header += FormatStanza(stanza);
  header += "---";
  Sha256Digest mac = HeaderMac(file_key, header);
  header += " " + EncodeBase64(mac) + "\n";
  return header;
}

bool HeaderParser::AddLine(std::string_view line) {
  ++line_number_;
  switch (expect_) {
    case Expect::kVersion:
      if (line == kVersionLine) {
        expect_ = Expect::kStanzaOrMac;
        return false;
      }
      if (line.starts_with(kArmorBegin)) {
        throw Error::Corrupt("age: armored (PEM) files are not supported; use binary age files");
      }
      if (line.starts_with("age-encryption.org/")) {
        throw Error::Corrupt("age: unsupported format version (only age-encryption.org/v1)");
      }
      throw Error::Corrupt("age: not an age file (no age-encryption.org/v1 line)");

    case Expect::kStanzaOrMac:
      if (line.starts_with("---")) {
        if (stanzas_.empty()) throw HeaderError(line_number_, "MAC line before any stanza");
        std::string mac;
        if (line.size() != 4 + kMacBase64Size || line[3] != ' ' ||
            !DecodeBase64(line.substr(4), mac) || mac.size() != mac_.size()) {
          throw HeaderError(line_number_, "malformed MAC line");
        }
        std::copy(mac.begin(), mac.end(), mac_.begin());
        expect_ = Expect::kNothing;
        return true;
      }
      if (line.starts_with("-> ")) {
        Stanza stanza;
        std::string_view rest = line.substr(3);
        while (true) {
          size_t space = rest.find(' ');
          std::string_view arg = rest.substr(0, space);
          if (!IsValidArgument(arg)) throw HeaderError(line_number_, "malformed stanza arguments");
          stanza.args.emplace_back(arg);
          if (space == std::string_view::npos) break;
          rest.remove_prefix(space + 1);
        }
        stanzas_.push_back(std::move(stanza));
        expect_ = Expect::kBody;
        return false;
      }
      throw HeaderError(line_number_, "expected a stanza or the MAC line");

    case Expect::kBody:
      if (line.size() > kColumnsPerLine) {
        throw HeaderError(line_number_, "stanza body line longer than 64 columns");
      }
      if (!DecodeBase64(line, stanzas_.back().body)) {
        throw HeaderError(line_number_, "stanza body is not canonical unpadded base64");
      }
      if (line.size() < kColumnsPerLine) expect_ = Expect::kStanzaOrMac;
      return false;

    case Expect::kNothing:
      break;
  }
  throw HeaderError(line_number_, "line after the MAC line");
}

Stanza WrapX25519(const FileKey& file_key, const AgeRecipient& recipient) {
  Key32 ephemeral{};
  WipeOnExit wipe_ephemeral(ephemeral);
  RandomBytes(ephemeral);
  Key32 share = X25519PublicKey(ephemeral);
  Key32 shared{};
  WipeOnExit wipe_shared(shared);
  if (!X25519SharedSecret(ephemeral, recipient.public_key, shared)) {
    throw Error::InvalidInput("age: recipient is not a usable X25519 public key (low-order point)");
  }
  std::array<uint8_t, 64> salt{};
  std::copy(share.begin(), share.end(), salt.begin());
  std::copy(recipient.public_key.begin(), recipient.public_key.end(), salt.begin() + 32);
  Key32 wrap_key = HkdfSha256(shared, salt, kX25519Label);
  WipeOnExit wipe_wrap_key(wrap_key);
  ChaCha20Poly1305 wrap(wrap_key);

  std::array<uint8_t, kFileKeySize + kAeadTagSize> body{};
  wrap.Seal(AeadNonce{}, file_key, body.data());
  return Stanza{{std::string(kX25519Type), EncodeBase64(share)},
                std::string(reinterpret_cast<const char*>(body.data()), body.size())};
}

std::optional<FileKey> UnwrapX25519(const Stanza& stanza, const AgeIdentity& identity) {
  if (stanza.args.empty() || stanza.args[0] != kX25519Type) return std::nullopt;
  if (stanza.args.size() != 2) throw Error::Corrupt("age: X25519 stanza without exactly one share");
  std::string share_bytes;
  Key32 share{};
  if (!DecodeBase64(stanza.args[1], share_bytes) || share_bytes.size() != share.size()) {
    throw Error::Corrupt("age: X25519 stanza share is not 32 bytes of canonical base64");
  }
  // Checked before any decryption, as age requires, against partitioning oracles.
  if (stanza.body.size() != kFileKeySize + kAeadTagSize) {
    throw Error::Corrupt("age: X25519 stanza body is not 32 bytes");
  }
  std::copy(share_bytes.begin(), share_bytes.end(), share.begin());

  Key32 shared{};
  WipeOnExit wipe_shared(shared);
  if (!X25519SharedSecret(identity.secret_key, share, shared)) {
    throw Error::Corrupt("age: X25519 stanza share is a low-order point");
  }
  Key32 identity_public = X25519PublicKey(identity.secret_key);
  std::array<uint8_t, 64> salt{};
  std::copy(share.begin(), share.end(), salt.begin());
  std::copy(identity_public.begin(), identity_public.end(), salt.begin() + 32);
  Key32 wrap_key = HkdfSha256(shared, salt, kX25519Label);
  WipeOnExit wipe_wrap_key(wrap_key);
  ChaCha20Poly1305 wrap(wrap_key);

  FileKey file_key{};
  if (!wrap.Open(AeadNonce{}, Bytes(stanza.body), file_key.data())) {
    Wipe(file_key);
    return std::nullopt;
  }
  return file_key;
}

Key32 PayloadKey(const FileKey& file_key, const PayloadNonce& nonce) {
  return HkdfSha256(file_key, nonce, "payload");
}

AeadNonce ChunkNonce(uint64_t counter, bool last) {
  AeadNonce nonce{};
  for (int i = 10; i >= 3; --i) {
    nonce[i] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  nonce[11] = last ? 0x01 : 0x00;
  return nonce;
}

}  // namespace snapd::age
