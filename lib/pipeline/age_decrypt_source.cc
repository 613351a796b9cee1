// age v1 decryption as a streaming source: the header is read line by line into the chunk
// buffer, the file key unwrapped and the MAC checked, then one sealed chunk is read at a time.
#include "pipeline/age_decrypt_source.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/error.h"
#include "core/string_source.h"
#include "pipeline/age_format.h"

namespace snapd {
namespace {

// One sealed chunk plus one byte, which tells whether the chunk is the last one.
constexpr size_t kInputSize = age::kSealedChunkSize + 1;
static_assert(kInputSize > age::kMaxHeaderSize);

// Longer than any valid first line: lets a file that is not age fail before 64 KiB is read.
constexpr size_t kMaxFirstLine = 64;

}  // namespace

struct AgeDecryptSource::State {
  State(ByteSource& source, std::vector<AgeIdentity> ids)
      : in(source), identities(std::move(ids)) {}
  ~State() {
    for (AgeIdentity& identity : identities) age::Wipe(identity.secret_key);
  }

  ByteSource& in;
  std::vector<AgeIdentity> identities;
  std::vector<uint8_t> input = std::vector<uint8_t>(kInputSize);
  size_t filled = 0;
  bool input_ended = false;
  std::vector<uint8_t> plain = std::vector<uint8_t>(age::kChunkSize);
  size_t plain_pos = 0;
  size_t plain_end = 0;
  std::optional<age::ChaCha20Poly1305> aead;  // set once the header is read
  uint64_t counter = 0;
  bool done = false;
  std::optional<Error> error;  // a failed stream keeps failing the same way

  // One Read of the source into the free part of the input buffer, up to `limit` bytes held.
  void ReadSome(size_t limit) {
    size_t n = in.Read(reinterpret_cast<char*>(input.data() + filled), limit - filled);
    if (n == 0) input_ended = true;
    filled += n;
  }

  void FillTo(size_t want) {
    while (filled < want && !input_ended) ReadSome(want);
  }

  void Consume(size_t n) {
    std::memmove(input.data(), input.data() + n, filled - n);
    filled -= n;
  }

  void ReadHeader();
  std::optional<age::FileKey> UnwrapFileKey(const std::vector<age::Stanza>& stanzas);
  void ReadChunk();
};

std::optional<age::FileKey> AgeDecryptSource::State::UnwrapFileKey(
    const std::vector<age::Stanza>& stanzas) {
  for (const AgeIdentity& identity : identities) {
    for (const age::Stanza& stanza : stanzas) {
      if (auto file_key = age::UnwrapX25519(stanza, identity)) return file_key;
    }
  }
  return std::nullopt;
}

void AgeDecryptSource::State::ReadHeader() {
  age::HeaderParser parser;
  size_t line_start = 0;
  size_t scanned = 0;
  bool first_line = true;
  std::string_view header_through_dashes;
  while (true) {
    auto begin = input.begin() + static_cast<ptrdiff_t>(scanned);
    auto end = input.begin() + static_cast<ptrdiff_t>(filled);
    auto newline = std::find(begin, end, '\n');
    if (newline == end) {
      scanned = filled;
      if (first_line && filled > kMaxFirstLine) {
        // Not a version line whatever follows: let the parser say what it is instead.
        parser.AddLine(std::string_view(reinterpret_cast<const char*>(input.data()), filled));
      }
      if (filled >= age::kMaxHeaderSize) throw Error::Corrupt("age: header longer than 64 KiB");
      if (input_ended) {
        throw Error::Corrupt(filled == 0 ? "age: empty input, not an age file"
                                         : "age: input ends inside the header");
      }
      ReadSome(age::kMaxHeaderSize);
      continue;
    }
    size_t line_end = static_cast<size_t>(newline - input.begin());
    std::string_view line(reinterpret_cast<const char*>(input.data()) + line_start,
                          line_end - line_start);
    first_line = false;
    if (parser.AddLine(line)) {
      // The MAC covers the header up to and including the "---" that starts this line.
      header_through_dashes =
          std::string_view(reinterpret_cast<const char*>(input.data()), line_start + 3);
      line_start = line_end + 1;
      break;
    }
    scanned = line_start = line_end + 1;
  }

  const std::vector<age::Stanza>& stanzas = parser.stanzas();
  std::optional<age::FileKey> file_key = UnwrapFileKey(stanzas);
  if (!file_key) {
    size_t x25519 = std::count_if(stanzas.begin(), stanzas.end(),
                                  [](const age::Stanza& s) { return s.args[0] == "X25519"; });
    if (x25519 == 0) {
      throw Error::InvalidInput(
          "age decrypt: the file has no X25519 recipient (passphrase or plugin encrypted)");
    }
    throw Error::InvalidInput("age decrypt: none of the " + std::to_string(identities.size()) +
                              " identities opens any of the file's " + std::to_string(x25519) +
                              " X25519 recipient stanzas (wrong key, or a damaged stanza)");
  }
  age::WipeOnExit wipe_file_key(*file_key);
  Sha256Digest mac = age::HeaderMac(*file_key, header_through_dashes);
  if (CRYPTO_memcmp(mac.data(), parser.mac().data(), mac.size()) != 0) {
    throw Error::Corrupt("age: header MAC mismatch, the header is damaged");
  }
  Consume(line_start);

  FillTo(age::kPayloadNonceSize);
  if (filled < age::kPayloadNonceSize) {
    throw Error::Corrupt("age: input ends before the payload nonce");
  }
  age::PayloadNonce nonce{};
  std::copy_n(input.begin(), nonce.size(), nonce.begin());
  Consume(nonce.size());
  age::Key32 payload_key = age::PayloadKey(*file_key, nonce);
  age::WipeOnExit wipe_payload_key(payload_key);
  aead.emplace(payload_key);
}

void AgeDecryptSource::State::ReadChunk() {
  FillTo(kInputSize);
  std::string chunk_name = "payload chunk " + std::to_string(counter);
  if (filled == kInputSize) {
    std::span<const uint8_t> sealed(input.data(), age::kSealedChunkSize);
    if (!aead->Open(age::ChunkNonce(counter, false), sealed, plain.data())) {
      if (aead->Open(age::ChunkNonce(counter, true), sealed, plain.data())) {
        throw Error::Corrupt("age: data after the final payload chunk");
      }
      throw Error::Corrupt("age: " + chunk_name + " failed authentication, the file is damaged");
    }
    plain_end = age::kChunkSize;
    Consume(age::kSealedChunkSize);
  } else {
    // The input ended within one sealed chunk: this must be the final chunk.
    if (filled == 0) throw Error::Corrupt("age: payload ends without its final chunk (truncated)");
    if (filled < age::kAeadTagSize) {
      throw Error::Corrupt("age: " + chunk_name + " is shorter than its tag (truncated)");
    }
    if (filled == age::kAeadTagSize && counter > 0) {
      throw Error::Corrupt("age: empty final chunk after a non-empty payload");
    }
    if (!aead->Open(age::ChunkNonce(counter, true), std::span(input.data(), filled),
                    plain.data())) {
      throw Error::Corrupt("age: final " + chunk_name +
                           " failed authentication, the file is truncated or damaged");
    }
    plain_end = filled - age::kAeadTagSize;
    filled = 0;
    done = true;
  }
  plain_pos = 0;
  ++counter;
}

AgeDecryptSource::AgeDecryptSource(ByteSource& in, std::vector<AgeIdentity> identities)
    : state_(std::make_unique<State>(in, std::move(identities))) {}

AgeDecryptSource::~AgeDecryptSource() = default;

size_t AgeDecryptSource::Read(char* buffer, size_t size) {
  State& s = *state_;
  if (s.error) throw *s.error;
  if (size == 0) return 0;
  try {
    if (s.identities.empty()) throw Error::InvalidInput("age decrypt: no identities given");
    if (!s.aead) s.ReadHeader();
    while (s.plain_pos == s.plain_end) {
      if (s.done) return 0;
      s.ReadChunk();
    }
  } catch (const Error& e) {
    s.error = e;
    throw;
  }
  size_t n = std::min(size, s.plain_end - s.plain_pos);
  std::memcpy(buffer, s.plain.data() + s.plain_pos, n);
  s.plain_pos += n;
  return n;
}

std::string AgeDecrypt(std::string_view ciphertext, const std::vector<AgeIdentity>& identities) {
  StringSource source(ciphertext);
  AgeDecryptSource decrypt(source, identities);
  std::string out;
  char buffer[16 * 1024];
  while (size_t n = decrypt.Read(buffer, sizeof(buffer))) out.append(buffer, n);
  return out;
}

}  // namespace snapd
