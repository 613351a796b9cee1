// Tests of the age v1 stages: Bech32 and key strings, round trips through the streaming sink
// and source, tampering and truncation, header grammar, and files made by the real age tool.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/byte_sink.h"
#include "core/byte_source.h"
#include "core/encoding.h"
#include "core/error.h"
#include "pipeline/age_decrypt_source.h"
#include "pipeline/age_encrypt_sink.h"
#include "pipeline/age_format.h"
#include "pipeline/age_keys.h"
#include "pipeline/age_primitives.h"
#include "pipeline/bech32.h"
#include "require_error.h"

using namespace snapd;

namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kSealed = kChunk + 16;

// The plaintext of the fixtures (see tests/unit/data/age/make_fixtures.sh); it changes every
// 512 bytes so that swapped or repeated chunks cannot decrypt to the same text.
std::string Pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(((i * 31) ^ (i >> 9)) & 0xff);
  return out;
}

std::string ReadFixture(const std::string& name) {
  std::ifstream file(std::string(SNAPD_SOURCE_ROOT) + "/tests/unit/data/age/" + name,
                     std::ios::binary);
  REQUIRE(file);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string FirstLine(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

class StringSink final : public ByteSink {
 public:
  void Write(std::string_view chunk) override {
    data.append(chunk);
    ++writes;
  }
  std::string data;
  size_t writes = 0;
};

// Hands out at most `piece` bytes per Read and counts what it gave.
class PieceSource final : public ByteSource {
 public:
  PieceSource(std::string_view data, size_t piece) : data_(data), piece_(piece) {}
  size_t Read(char* buffer, size_t size) override {
    size_t n = std::min({size, piece_, data_.size()});
    std::memcpy(buffer, data_.data(), n);
    data_.remove_prefix(n);
    consumed += n;
    return n;
  }
  size_t consumed = 0;

 private:
  std::string_view data_;
  size_t piece_;
};

std::string DecryptInPieces(const std::string& ciphertext, std::vector<AgeIdentity> identities,
                            size_t source_piece, size_t read_size) {
  PieceSource source(ciphertext, source_piece);
  AgeDecryptSource decrypt(source, std::move(identities));
  std::string out;
  std::vector<char> buffer(read_size);
  while (size_t n = decrypt.Read(buffer.data(), buffer.size())) out.append(buffer.data(), n);
  return out;
}

// Header length of a file: up to and including the MAC line.
size_t HeaderLength(const std::string& ciphertext) {
  size_t mac = ciphertext.find("\n--- ");
  REQUIRE(mac != std::string::npos);
  return ciphertext.find('\n', mac + 1) + 1;
}

// Another valid base64 character, so an edit changes the value but not the grammar.
char OtherBase64(char c) {
  return c == 'A' ? 'B' : 'A';
}

struct KeyPair {
  AgeIdentity identity = GenerateAgeIdentity();
  AgeRecipient recipient = AgeRecipientOf(identity);
};

std::string ToLower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return text;
}

std::span<const uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string BytesToString(std::span<const uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A file sealed by hand from the format pieces, for streams our sink never writes.
struct HandMadeFile {
  age::FileKey file_key{};
  age::PayloadNonce nonce{};
  std::optional<age::ChaCha20Poly1305> aead;
  std::string text;

  explicit HandMadeFile(const std::vector<age::Stanza>& extra_stanzas,
                        const std::vector<AgeRecipient>& recipients) {
    age::RandomBytes(file_key);
    age::RandomBytes(nonce);
    std::vector<age::Stanza> stanzas = extra_stanzas;
    for (const AgeRecipient& r : recipients) stanzas.push_back(age::WrapX25519(file_key, r));
    text = age::FormatHeader(file_key, stanzas) + BytesToString(nonce);
    aead.emplace(age::PayloadKey(file_key, nonce));
  }

  void AddChunk(uint64_t counter, bool last, const std::string& plaintext) {
    std::string sealed(plaintext.size() + 16, '\0');
    aead->Seal(age::ChunkNonce(counter, last), Bytes(plaintext),
               reinterpret_cast<uint8_t*>(sealed.data()));
    text += sealed;
  }
};

}  // namespace

TEST_CASE("bech32 decodes the BIP-173 valid strings and encodes them back", "[age]") {
  std::vector<std::string> valid = {
      "A12UEL5L",
      "a12uel5l",
      "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
      "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
      "11" + std::string(82, 'q') + "c8247j",
      "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
      "?1ezyfcl",
  };
  for (const std::string& text : valid) {
    INFO(text);
    Bech32String decoded = Bech32Decode(text);
    CHECK(decoded.hrp == text.substr(0, text.rfind('1')));
    CHECK(Bech32Encode(ToLower(decoded.hrp), decoded.data) == ToLower(text));
  }
  // The data part of this vector is the alphabet in order: the values 0..31, i.e. 20 bytes.
  Bech32String alphabet = Bech32Decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
  CHECK(HexEncode(alphabet.data) == "00443214c74254b635cf84653a56d7c675be77df");
}

TEST_CASE("bech32 rejects bad checksums, mixed case and malformed strings", "[age]") {
  struct Bad {
    std::string text;
    std::string why;
  };
  std::vector<Bad> bad = {
      {"a12uel5m", "checksum"},
      {"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxx", "checksum"},
      {"A12uEL5L", "mixed"},
      {"abcdef1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LMQQQXW", "mixed"},
      {"A1G7SGD8", "checksum"},  // checksum computed over the upper-case HRP
      {"pzry9x0s0muk", "separator"},
      {"1pzry9x0s0muk", "empty human-readable"},
      {"10a06t8", "empty human-readable"},
      {"x1b4n0q5v", "alphabet"},
      {"li1dgmt3", "shorter than the checksum"},
      {std::string("\x20") + "1nwldj5", "printable"},
      {std::string("de1lg7wt") + "\xff", "printable"},
  };
  for (const Bad& b : bad) {
    INFO(b.text);
    RequireError([&] { Bech32Decode(b.text); }, ErrorKind::kInvalidInput, b.why);
  }
}

TEST_CASE("the spec's example identity gives the spec's example recipient", "[age]") {
  // From https://age-encryption.org/v1, "The X25519 recipient type".
  const std::string identity_text =
      "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
  AgeIdentity identity = ParseAgeIdentity(identity_text);
  CHECK(FormatAgeIdentity(identity) == identity_text);
  CHECK(FormatAgeRecipient(AgeRecipientOf(identity)) ==
        "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj");
}

TEST_CASE("the fixture identity's recipient is the one age-keygen -y printed", "[age]") {
  std::string identity_file = ReadFixture("identity.txt");
  std::string expected = FirstLine(ReadFixture("recipient.txt"));
  REQUIRE(expected.starts_with("age1"));
  std::vector<AgeIdentity> identities = ParseAgeIdentityFile(identity_file);
  REQUIRE(identities.size() == 1);
  CHECK(FormatAgeRecipient(AgeRecipientOf(identities[0])) == expected);
  CHECK(ParseAgeRecipient(expected).public_key == AgeRecipientOf(identities[0]).public_key);
  CHECK(identity_file.find("# public key: " + expected + "\n") != std::string::npos);
  std::string key_line = identity_file.substr(identity_file.find("AGE-SECRET-KEY-1"));
  CHECK(FormatAgeIdentity(identities[0]) == FirstLine(key_line));
}

TEST_CASE("age key strings reject the wrong kind, case, length and checksum", "[age]") {
  KeyPair keys;
  std::string identity_text = FormatAgeIdentity(keys.identity);
  std::string recipient_text = FormatAgeRecipient(keys.recipient);

  RequireError([&] { ParseAgeRecipient(identity_text); }, ErrorKind::kInvalidInput,
               "does not start with age1");
  RequireError([&] { ParseAgeIdentity(recipient_text); }, ErrorKind::kInvalidInput,
               "does not start with AGE-SECRET-KEY-1");
  // age compares the HRP as written: recipients lower case, identities upper case.
  std::string upper_recipient = recipient_text;
  std::transform(upper_recipient.begin(), upper_recipient.end(), upper_recipient.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; });
  RequireError([&] { ParseAgeRecipient(upper_recipient); }, ErrorKind::kInvalidInput, "age1");
  RequireError([&] { ParseAgeIdentity(ToLower(identity_text)); }, ErrorKind::kInvalidInput,
               "AGE-SECRET-KEY-1");

  std::string damaged = recipient_text;
  damaged[10] = damaged[10] == 'q' ? 'p' : 'q';
  RequireError([&] { ParseAgeRecipient(damaged); }, ErrorKind::kInvalidInput, "checksum");

  std::array<uint8_t, 31> short_key{};
  RequireError([&] { ParseAgeRecipient(Bech32Encode("age", short_key)); }, ErrorKind::kInvalidInput,
               "not 32 bytes");

  // A damaged secret key is named as such but never echoed.
  std::string damaged_identity = identity_text;
  damaged_identity[20] = damaged_identity[20] == 'Q' ? 'P' : 'Q';
  try {
    ParseAgeIdentity(damaged_identity);
    FAIL("a damaged identity parsed");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    CHECK_THAT(e.what(), Catch::Contains("age identity"));
    CHECK_THAT(e.what(), !Catch::Contains(damaged_identity.substr(16, 20)));
  }
}

TEST_CASE("identity files take comments, blank lines and CRLF and name a bad line", "[age]") {
  KeyPair a;
  KeyPair b;
  std::string text =
      "# created: 2024-01-01T00:00:00Z\r\n# public key: " + FormatAgeRecipient(a.recipient) +
      "\r\n" + FormatAgeIdentity(a.identity) + "\r\n\r\n  \n" + FormatAgeIdentity(b.identity);
  std::vector<AgeIdentity> identities = ParseAgeIdentityFile(text);
  REQUIRE(identities.size() == 2);
  CHECK(identities[0].secret_key == a.identity.secret_key);
  CHECK(identities[1].secret_key == b.identity.secret_key);

  RequireError([] { ParseAgeIdentityFile("# only a comment\n\n"); }, ErrorKind::kInvalidInput,
               "no AGE-SECRET-KEY-1");
  RequireError([&] { ParseAgeIdentityFile("# c\n\n" + FormatAgeRecipient(a.recipient) + "\n"); },
               ErrorKind::kInvalidInput, "line 3");
  RequireError([] { ParseAgeIdentityFile("AGE-PLUGIN-YUBIKEY-1QQQQQQ\n"); },
               ErrorKind::kInvalidInput, "plugin");
}

TEST_CASE("generated identities differ and round trip through their text", "[age]") {
  KeyPair a;
  KeyPair b;
  CHECK(a.identity.secret_key != b.identity.secret_key);
  CHECK(a.recipient.public_key != b.recipient.public_key);
  CHECK(ParseAgeIdentity(FormatAgeIdentity(a.identity)).secret_key == a.identity.secret_key);
  CHECK(ParseAgeRecipient(FormatAgeRecipient(a.recipient)).public_key == a.recipient.public_key);
  CHECK(FormatAgeRecipient(a.recipient).size() == 62);
  CHECK(FormatAgeIdentity(a.identity).size() == 74);
}

TEST_CASE("HKDF-SHA256 matches RFC 5869 test cases 1 and 3", "[age]") {
  std::string ikm(22, '\x0b');
  std::string salt;
  for (int i = 0; i <= 0x0c; ++i) salt.push_back(static_cast<char>(i));
  std::string info;
  for (int i = 0xf0; i <= 0xf9; ++i) info.push_back(static_cast<char>(i));
  // The first 32 bytes of each case's OKM: HKDF-Expand output is a prefix-stable stream.
  CHECK(HexEncode(age::HkdfSha256(Bytes(ikm), Bytes(salt), info)) ==
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
  CHECK(HexEncode(age::HkdfSha256(Bytes(ikm), {}, "")) ==
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
}

TEST_CASE("age base64 accepts only canonical unpadded text", "[age]") {
  std::string out;
  CHECK(age::DecodeBase64("AA", out));
  CHECK(out == std::string(1, '\0'));
  CHECK(age::EncodeBase64(Bytes("foobar!")) == "Zm9vYmFyIQ");
  for (std::string_view bad : {"AB", "AA==", "A", "Zm9v!mFy", "Zm9vYmFyIR"}) {
    INFO(bad);
    std::string ignored;
    CHECK_FALSE(age::DecodeBase64(bad, ignored));
  }
}

TEST_CASE("age round trips at chunk boundaries with the expected chunk count", "[age]") {
  KeyPair keys;
  for (size_t size : {size_t{0}, size_t{1}, kChunk - 1, kChunk, kChunk + 1, 3 * kChunk}) {
    INFO("size " << size);
    std::string plaintext = Pattern(size);
    std::string ciphertext = AgeEncrypt(plaintext, {keys.recipient});
    // A full last chunk carries the last flag itself: no empty chunk follows it.
    size_t chunks = std::max<size_t>(1, (size + kChunk - 1) / kChunk);
    CHECK(ciphertext.size() == HeaderLength(ciphertext) + 16 + size + 16 * chunks);
    CHECK(AgeDecrypt(ciphertext, {keys.identity}) == plaintext);
    CHECK(DecryptInPieces(ciphertext, {keys.identity}, 1000, 777) == plaintext);
  }
}

TEST_CASE("about 1 MiB written and read in odd pieces streams through", "[age]") {
  KeyPair keys;
  std::string plaintext = Pattern(1024 * 1024 + 7);
  StringSink sink;
  AgeEncryptSink encrypt(sink, {keys.recipient});
  const size_t pieces[] = {1, 7, 4093, 65537, 100003, 3};
  size_t written = 0;
  for (size_t i = 0; written < plaintext.size(); ++i) {
    size_t n = std::min(pieces[i % std::size(pieces)], plaintext.size() - written);
    encrypt.Write(std::string_view(plaintext).substr(written, n));
    written += n;
    if (written > 300 * 1024 && written < 400 * 1024) {
      // Sealed chunks leave as soon as the next byte arrives, not at Finish.
      CHECK(sink.data.size() >= 4 * kSealed);
      CHECK(sink.data.size() <= written + 1024);
    }
  }
  encrypt.Finish();
  CHECK(sink.data.size() == HeaderLength(sink.data) + 16 + plaintext.size() + 17 * 16);
  CHECK(DecryptInPieces(sink.data, {keys.identity}, 3001, 5000) == plaintext);
  CHECK(DecryptInPieces(sink.data, {keys.identity}, 1 << 20, 1 << 20) == plaintext);
}

TEST_CASE("the decrypt source holds one chunk, not the stream", "[age]") {
  KeyPair keys;
  std::string plaintext = Pattern(5 * kChunk + 10);
  std::string ciphertext = AgeEncrypt(plaintext, {keys.recipient});
  PieceSource source(ciphertext, 1 << 20);
  AgeDecryptSource decrypt(source, {keys.identity});
  char byte = 0;
  REQUIRE(decrypt.Read(&byte, 1) == 1);
  CHECK(byte == plaintext[0]);
  // The header read may run ahead by up to 64 KiB, then one sealed chunk and one byte.
  CHECK(source.consumed <= 64 * 1024 + kSealed + 1);
  CHECK(source.consumed < ciphertext.size() / 2);
}

TEST_CASE("the encrypt sink checks its use", "[age]") {
  KeyPair keys;
  StringSink sink;
  RequireError([&] { AgeEncryptSink s(sink, std::vector<AgeRecipient>{}); },
               ErrorKind::kInvalidInput, "no recipients");
  RequireError([&] { AgeEncryptSink s(sink, {AgeRecipient{}}); }, ErrorKind::kInvalidInput,
               "low-order");
  {
    AgeEncryptSink abandoned(sink, {keys.recipient});
    abandoned.Write("not finished");
  }
  CHECK(sink.data.empty());  // abandoned before a chunk filled: nothing written
  AgeEncryptSink encrypt(sink, {keys.recipient});
  encrypt.Finish();
  CHECK_THROWS_AS(encrypt.Write("late"), Error);
  CHECK(AgeDecrypt(sink.data, {keys.identity}).empty());
}

TEST_CASE("age files to two recipients open with either identity only", "[age]") {
  KeyPair a;
  KeyPair b;
  KeyPair stranger;
  std::string plaintext = Pattern(70000);
  std::string ciphertext = AgeEncrypt(plaintext, {a.recipient, b.recipient});
  CHECK(AgeDecrypt(ciphertext, {a.identity}) == plaintext);
  CHECK(AgeDecrypt(ciphertext, {b.identity}) == plaintext);
  CHECK(AgeDecrypt(ciphertext, {stranger.identity, b.identity}) == plaintext);
  RequireError([&] { AgeDecrypt(ciphertext, {stranger.identity}); }, ErrorKind::kInvalidInput,
               "none of the 1 identities");
  RequireError([&] { AgeDecrypt(ciphertext, {}); }, ErrorKind::kInvalidInput, "no identities");
}

TEST_CASE("files made by the real age tool decrypt to the expected plaintext", "[age]") {
  std::vector<AgeIdentity> identity = ParseAgeIdentityFile(ReadFixture("identity.txt"));
  std::vector<AgeIdentity> identity2 = ParseAgeIdentityFile(ReadFixture("identity2.txt"));
  struct Fixture {
    std::string name;
    size_t size;
  };
  for (const Fixture& f : {Fixture{"empty.age", 0}, Fixture{"small.age", 100},
                           Fixture{"chunk.age", kChunk}, Fixture{"chunk_plus_one.age", kChunk + 1},
                           Fixture{"large.age", 200000}, Fixture{"two_recipients.age", 5000}}) {
    INFO(f.name);
    std::string ciphertext = ReadFixture(f.name);
    CHECK(AgeDecrypt(ciphertext, identity) == Pattern(f.size));
    CHECK(DecryptInPieces(ciphertext, identity, 7, 1000) == Pattern(f.size));
    if (f.name == "two_recipients.age") {
      CHECK(AgeDecrypt(ciphertext, identity2) == Pattern(f.size));
    } else {
      RequireError([&] { AgeDecrypt(ciphertext, identity2); }, ErrorKind::kInvalidInput, "none of");
    }
  }
}

TEST_CASE("age detects a changed byte in header, nonce and chunks", "[age]") {
  KeyPair keys;
  std::string plaintext = Pattern(3 * kChunk + 100);  // four chunks
  std::string ciphertext = AgeEncrypt(plaintext, {keys.recipient});
  size_t header = HeaderLength(ciphertext);
  auto decrypt = [&](const std::string& text) { return AgeDecrypt(text, {keys.identity}); };
  REQUIRE(decrypt(ciphertext) == plaintext);

  SECTION("header MAC") {
    std::string t = ciphertext;
    t[header - 10] = OtherBase64(t[header - 10]);
    RequireError([&] { decrypt(t); }, ErrorKind::kCorrupt, "MAC");
  }
  SECTION("the version line") {
    std::string t = ciphertext;
    t[3] ^= 0x01;
    RequireError([&] { decrypt(t); }, ErrorKind::kCorrupt, "not an age file");
  }
  SECTION("the payload nonce") {
    std::string t = ciphertext;
    t[header + 3] ^= 0x01;
    RequireError([&] { decrypt(t); }, ErrorKind::kCorrupt, "payload chunk 0");
  }
  SECTION("a middle chunk, after the chunks before it were delivered") {
    std::string t = ciphertext;
    t[header + 16 + kSealed + 100] ^= 0x01;
    PieceSource source(t, 1 << 20);
    AgeDecryptSource stream(source, {keys.identity});
    std::string first(kChunk, '\0');
    size_t got = 0;
    while (got < kChunk) got += stream.Read(first.data() + got, kChunk - got);
    CHECK(first == plaintext.substr(0, kChunk));
    char byte;
    RequireError([&] { stream.Read(&byte, 1); }, ErrorKind::kCorrupt, "payload chunk 1");
    // A failed stream keeps failing.
    RequireError([&] { stream.Read(&byte, 1); }, ErrorKind::kCorrupt, "payload chunk 1");
  }
  SECTION("the last chunk") {
    std::string t = ciphertext;
    t[t.size() - 5] ^= 0x01;
    RequireError([&] { decrypt(t); }, ErrorKind::kCorrupt, "final payload chunk 3");
  }
  SECTION("two chunks swapped") {
    std::string t = ciphertext;
    std::swap_ranges(t.begin() + header + 16, t.begin() + header + 16 + kSealed,
                     t.begin() + header + 16 + kSealed);
    RequireError([&] { decrypt(t); }, ErrorKind::kCorrupt, "payload chunk 0");
  }
}

TEST_CASE("a changed stanza body is a wrong key alone, and a MAC failure beside a good one",
          "[age]") {
  KeyPair a;
  KeyPair b;
  std::string plaintext = Pattern(1000);

  // Alone, a damaged stanza cannot be told from a stanza for another key: both fail the
  // wrap key's tag, which is what opening with the wrong key looks like.
  std::string single = AgeEncrypt(plaintext, {a.recipient});
  size_t body = single.find('\n', single.find("-> X25519")) + 1;
  single[body + 5] = OtherBase64(single[body + 5]);
  RequireError([&] { AgeDecrypt(single, {a.identity}); }, ErrorKind::kInvalidInput,
               "damaged stanza");

  // With another stanza that opens, the header MAC catches it.
  std::string pair = AgeEncrypt(plaintext, {a.recipient, b.recipient});
  size_t second = pair.find("-> X25519", pair.find("-> X25519") + 1);
  size_t second_body = pair.find('\n', second) + 1;
  pair[second_body + 5] = OtherBase64(pair[second_body + 5]);
  RequireError([&] { AgeDecrypt(pair, {a.identity}); }, ErrorKind::kCorrupt, "MAC");
  RequireError([&] { AgeDecrypt(pair, {b.identity}); }, ErrorKind::kInvalidInput, "none of");
}

TEST_CASE("age detects truncation and trailing data", "[age]") {
  KeyPair keys;
  std::string plaintext = Pattern(3 * kChunk + 100);
  std::string ciphertext = AgeEncrypt(plaintext, {keys.recipient});
  size_t header = HeaderLength(ciphertext);
  auto decrypt = [&](const std::string& text) { return AgeDecrypt(text, {keys.identity}); };

  // Cut at a chunk boundary, the last chunk left was sealed as not last.
  RequireError([&] { decrypt(ciphertext.substr(0, header + 16 + 2 * kSealed)); },
               ErrorKind::kCorrupt, "final payload chunk 1");
  RequireError([&] { decrypt(ciphertext.substr(0, header + 16 + kSealed)); }, ErrorKind::kCorrupt,
               "final payload chunk 0");
  RequireError([&] { decrypt(ciphertext.substr(0, header + 16)); }, ErrorKind::kCorrupt,
               "without its final chunk");
  RequireError([&] { decrypt(ciphertext.substr(0, ciphertext.size() - 10)); }, ErrorKind::kCorrupt,
               "final payload chunk 3");
  RequireError([&] { decrypt(ciphertext.substr(0, header + 16 + kSealed + 8)); },
               ErrorKind::kCorrupt, "shorter than its tag");
  RequireError([&] { decrypt(ciphertext.substr(0, header + 5)); }, ErrorKind::kCorrupt,
               "payload nonce");
  RequireError([&] { decrypt(ciphertext.substr(0, header - 20)); }, ErrorKind::kCorrupt,
               "inside the header");
  RequireError([&] { decrypt(""); }, ErrorKind::kCorrupt, "empty input");

  RequireError([&] { decrypt(ciphertext + "x"); }, ErrorKind::kCorrupt, "final payload chunk 3");
  std::string full_last = AgeEncrypt(Pattern(2 * kChunk), {keys.recipient});
  RequireError([&] { decrypt(full_last + "x"); }, ErrorKind::kCorrupt,
               "data after the final payload chunk");
  RequireError([&] { decrypt(full_last + std::string(kSealed, 'x')); }, ErrorKind::kCorrupt,
               "data after the final payload chunk");
  std::string empty = AgeEncrypt("", {keys.recipient});
  RequireError([&] { decrypt(empty + "x"); }, ErrorKind::kCorrupt, "final payload chunk 0");
}

TEST_CASE("an empty final chunk is refused after a non-empty payload", "[age]") {
  KeyPair keys;
  std::string full = Pattern(kChunk);

  HandMadeFile good({}, {keys.recipient});
  good.AddChunk(0, true, full);
  CHECK(AgeDecrypt(good.text, {keys.identity}) == full);  // the hand-made file is valid

  HandMadeFile bad({}, {keys.recipient});
  bad.AddChunk(0, false, full);
  bad.AddChunk(1, true, "");
  RequireError([&] { AgeDecrypt(bad.text, {keys.identity}); }, ErrorKind::kCorrupt,
               "empty final chunk");

  HandMadeFile unflagged({}, {keys.recipient});
  unflagged.AddChunk(0, false, "short");
  RequireError([&] { AgeDecrypt(unflagged.text, {keys.identity}); }, ErrorKind::kCorrupt,
               "final payload chunk 0");
}

TEST_CASE("age skips stanzas of other types, with bodies of any line count", "[age]") {
  KeyPair keys;
  // 96 bytes: two full 64-column lines, then the empty final line.
  age::Stanza other{{"example.com/enigma", "arg"}, Pattern(96)};
  std::string formatted = age::FormatStanza(other);
  CHECK(std::count(formatted.begin(), formatted.end(), '\n') == 4);
  CHECK(formatted.ends_with("\n\n"));

  HandMadeFile file({other}, {keys.recipient});
  file.AddChunk(0, true, "hello");
  CHECK(AgeDecrypt(file.text, {keys.identity}) == "hello");

  HandMadeFile passphrase_only(
      {age::Stanza{{"scrypt", "c2FsdHNhbHRzYWx0c2FsdA", "18"}, Pattern(32)}}, {});
  passphrase_only.AddChunk(0, true, "hello");
  RequireError([&] { AgeDecrypt(passphrase_only.text, {keys.identity}); }, ErrorKind::kInvalidInput,
               "no X25519 recipient");
}

TEST_CASE("age refuses malformed X25519 stanzas", "[age]") {
  KeyPair keys;
  auto file_with = [&](age::Stanza stanza) {
    HandMadeFile file({stanza}, {keys.recipient});
    file.AddChunk(0, true, "hello");
    return file.text;
  };
  age::FileKey file_key{};
  age::Stanza good = age::WrapX25519(file_key, keys.recipient);

  age::Stanza extra_arg = good;
  extra_arg.args.push_back("more");
  RequireError([&] { AgeDecrypt(file_with(extra_arg), {keys.identity}); }, ErrorKind::kCorrupt,
               "exactly one share");

  age::Stanza short_body = good;
  short_body.body.pop_back();
  RequireError([&] { AgeDecrypt(file_with(short_body), {keys.identity}); }, ErrorKind::kCorrupt,
               "body is not 32 bytes");

  age::Stanza short_share = good;
  short_share.args[1] = age::EncodeBase64(Bytes(std::string(31, 'x')));
  RequireError([&] { AgeDecrypt(file_with(short_share), {keys.identity}); }, ErrorKind::kCorrupt,
               "share is not 32 bytes");

  age::Stanza zero_share = good;
  zero_share.args[1] = age::EncodeBase64(std::array<uint8_t, 32>{});
  RequireError([&] { AgeDecrypt(file_with(zero_share), {keys.identity}); }, ErrorKind::kCorrupt,
               "low-order");
}

TEST_CASE("age refuses headers that break the grammar", "[age]") {
  KeyPair keys;
  std::string ciphertext = AgeEncrypt("hello", {keys.recipient});
  auto decrypt = [&](const std::string& text) { return AgeDecrypt(text, {keys.identity}); };
  size_t stanza = ciphertext.find("-> X25519 ");
  size_t share_end = ciphertext.find('\n', stanza);
  size_t body_end = ciphertext.find('\n', share_end + 1);
  size_t mac = ciphertext.find("--- ");

  auto replace = [&](size_t pos, size_t length, const std::string& with) {
    std::string t = ciphertext;
    t.replace(pos, length, with);
    return t;
  };
  RequireError([&] { decrypt(replace(0, 21, "age-encryption.org/v2")); }, ErrorKind::kCorrupt,
               "unsupported format version");
  RequireError([&] { decrypt("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n"); }, ErrorKind::kCorrupt,
               "armored");
  RequireError([&] { decrypt(std::string(100000, 'z')); }, ErrorKind::kCorrupt, "not an age file");
  // Padding, and a share whose unused bits are set (the same bytes, non-canonical).
  RequireError([&] { decrypt(replace(body_end, 0, "=")); }, ErrorKind::kCorrupt,
               "canonical unpadded base64");
  char last_share = ciphertext[share_end - 1];
  std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string noncanonical(1, alphabet[alphabet.find(last_share) | 1]);
  RequireError([&] { decrypt(replace(share_end - 1, 1, noncanonical)); }, ErrorKind::kCorrupt,
               "canonical base64");
  RequireError([&] { decrypt(replace(mac + 3, 1, "x")); }, ErrorKind::kCorrupt,
               "malformed MAC line");
  RequireError([&] { decrypt(replace(stanza + 2, 1, "  ")); }, ErrorKind::kCorrupt,
               "malformed stanza arguments");
  RequireError([&] { decrypt(replace(stanza, 0, "junk\n")); }, ErrorKind::kCorrupt,
               "expected a stanza or the MAC line");
  RequireError([&] { decrypt(replace(stanza, body_end + 1 - stanza, "")); }, ErrorKind::kCorrupt,
               "MAC line before any stanza");
  std::string long_line = replace(share_end + 1, 0, std::string(64, 'A') + "A");
  RequireError([&] { decrypt(long_line); }, ErrorKind::kCorrupt, "longer than 64 columns");
  RequireError([&] { decrypt(replace(stanza, 0, "-> big " + std::string(70000, 'a') + "\n\n")); },
               ErrorKind::kCorrupt, "longer than 64 KiB");
}
