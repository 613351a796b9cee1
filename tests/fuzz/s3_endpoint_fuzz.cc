// Fuzzes S3 addressing from the config (etcd-s3-endpoint, -bucket, -bucket-lookup-type) and
// object keys: "<endpoint>\n<bucket>\n<key>" in the input. What is accepted makes a URL and a
// Host header without white space or control characters, and keys encode and decode back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "fuzz_input.h"
#include "s3/s3_endpoint.h"
#include "s3/sigv4_signer.h"

using snapd::fuzz::Check;

namespace {

std::string_view Field(std::string_view text, size_t index) {
  for (size_t i = 0; i < index; ++i) {
    const size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return {};
    text.remove_prefix(newline + 1);
  }
  return text.substr(0, text.find('\n'));
}

bool Printable(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

void CheckEncoding(std::string_view text, bool encode_slash) {
  const std::string encoded = snapd::UriEncode(text, encode_slash);
  for (char c : encoded) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~' || c == '%' || (!encode_slash && c == '/');
    Check(unreserved, "encoded keys hold only unreserved characters and escapes");
  }
  Check(snapd::UriDecode(encoded) == text, "an encoded key decodes back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = snapd::fuzz::AsText(data, size);
  if (text.size() > 4096) return 0;  // config values and keys, not documents
  const std::string_view endpoint = Field(text, 0);
  const std::string_view bucket = Field(text, 1);
  const std::string_view key = Field(text, 2);

  CheckEncoding(text, true);
  CheckEncoding(key, false);
  try {
    (void)snapd::UriDecode(text);
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kInvalidInput, "bad escapes are invalid input");
  }

  for (auto lookup :
       {snapd::BucketLookup::kAuto, snapd::BucketLookup::kDns, snapd::BucketLookup::kPath}) {
    try {
      const snapd::S3Endpoint s3(endpoint, std::string(bucket), lookup, size % 2 == 0);
      const snapd::S3Target target = s3.Target(key, {{"uploadId", std::string(key)}});
      Check(Printable(target.host), "the Host header has no white space or control characters");
      Check(Printable(target.url), "the URL has no white space or control characters");
      Check(target.url.starts_with(s3.scheme() + "://" + target.host + target.path),
            "the URL is scheme, host and path");
      Check(target.path.starts_with('/'), "paths are absolute");
    } catch (const snapd::Error& e) {
      Check(e.kind() == snapd::ErrorKind::kInvalidInput, "bad S3 settings are invalid input");
    }
  }
  return 0;
}
