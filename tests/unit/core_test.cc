// Tests of lib/core: encodings, digests, errors.
#include <catch2/catch.hpp>

#include "core/digest.h"
#include "core/encoding.h"
#include "core/error.h"
#include "require_error.h"

using namespace snapd;

TEST_CASE("hex and sha256 of known values", "[core]") {
  CHECK(Sha256::HexOf("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256::HexOf("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  CHECK(DigestHex(h.Finish()) == Sha256::HexOf("abc"));
}

TEST_CASE("sha256 FinishWith digests prefix plus more and keeps the prefix going", "[core]") {
  Sha256 h;
  h.Update("ab");
  CHECK(DigestHex(h.FinishWith("c")) == Sha256::HexOf("abc"));
  CHECK(DigestHex(h.FinishWith("")) == Sha256::HexOf("ab"));
  h.Update(std::string(100, 'x'));  // past a 64-byte block: the copy must carry buffered input
  CHECK(DigestHex(h.FinishWith("yz")) == Sha256::HexOf("ab" + std::string(100, 'x') + "yz"));
  CHECK(DigestHex(h.Finish()) == Sha256::HexOf("ab" + std::string(100, 'x')));
}

TEST_CASE("hmac-sha256 matches RFC 4231 case 2", "[core]") {
  CHECK(DigestHex(HmacSha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("base64 round trip and rejects garbage", "[core]") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    std::string out;
    Base64DecodeAppend(Base64Encode(s), out);
    CHECK(out == s);
  }
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  std::string out;
  CHECK_THROWS_AS(Base64DecodeAppend("Zm9v!mFy", out), Error);
  CHECK_THROWS_AS(Base64DecodeAppend("Z", out), Error);
}

TEST_CASE("base64 decodes every length and byte, appends, and leaves out as it was on error",
          "[core]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); ++n) {
    std::string bytes = all.substr(256 - n) + all.substr(0, n);  // every byte in every position
    bytes.resize(n);
    std::string out = "kept";
    Base64DecodeAppend(Base64Encode(bytes), out);
    REQUIRE(out == "kept" + bytes);
  }
  // RFC 4648 section 10 vectors, padded and not.
  const std::pair<const char*, const char*> vectors[] = {{"Zg==", "f"},   {"Zm8=", "fo"},
                                                         {"Zm9v", "foo"}, {"Zg", "f"},
                                                         {"Zm8", "fo"},   {"+/+/", "\xfb\xff\xbf"}};
  for (auto [text, bytes] : vectors) {
    std::string out;
    Base64DecodeAppend(text, out);
    CHECK(out == bytes);
  }
  // A bad character anywhere, in a whole group or in the last partial one.
  for (std::string bad : {"!AAA", "AA!A", "AAA!", "AAAA!A", "AAAAAA!", "AAAA\"AAA", "AA=A"}) {
    std::string out = "kept";
    RequireError([&] { Base64DecodeAppend(bad, out); }, ErrorKind::kCorrupt, "invalid character");
    CHECK(out == "kept");
  }
}

TEST_CASE("errors keep kind through context", "[core]") {
  Error e = Error::NotFound("snapshot x").WithContext("delete");
  CHECK(e.kind() == ErrorKind::kNotFound);
  CHECK(std::string(e.what()) == "delete: snapshot x");
  CHECK(ErrorKindName(ErrorKind::kCorrupt) == "corrupt");
}
