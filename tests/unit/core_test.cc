// Tests of lib/core: encodings, digests, errors.
#include <catch2/catch.hpp>

#include "core/digest.h"
#include "core/encoding.h"
#include "core/error.h"

using namespace snapd;

TEST_CASE("hex and sha256 of known values", "[core]") {
  CHECK(Sha256::HexOf("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256::HexOf("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  CHECK(DigestHex(h.Finish()) == Sha256::HexOf("abc"));
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

TEST_CASE("errors keep kind through context", "[core]") {
  Error e = Error::NotFound("snapshot x").WithContext("delete");
  CHECK(e.kind() == ErrorKind::kNotFound);
  CHECK(std::string(e.what()) == "delete: snapshot x");
  CHECK(ErrorKindName(ErrorKind::kCorrupt) == "corrupt");
}
