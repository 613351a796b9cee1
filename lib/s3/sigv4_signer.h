// AWS Signature Version 4 as a pure function: canonical request, string to sign, signature and
// the headers or presigned query parameters to add, with S3's rules selectable by options.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/digest.h"

namespace snapd {

// Header or query fields in order; a name may repeat.
using NameValueList = std::vector<std::pair<std::string, std::string>>;

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless the credentials are temporary
};

struct SigV4Request {
  std::string method;  // upper case, e.g. "GET"
  // The path as sent on the wire (percent-encoded, starting with '/'), without the query.
  std::string path;
  // Decoded query parameters; their order does not change the signature.
  NameValueList query;
  // Every header given is signed, so pass only headers sent unchanged. Host is required.
  // Name case and the whitespace around and inside values do not change the signature.
  NameValueList headers;
  // Lower-case hex SHA-256 of the body, "UNSIGNED-PAYLOAD" or a "STREAMING-..." literal.
  std::string payload_hash;
};

// The defaults are S3's rules.
struct SigV4Options {
  std::string region;
  std::string service;
  // Drop "." and empty path segments and resolve "..", as services other than S3 do.
  bool normalize_path = false;
  // Percent-encode the already encoded wire path once more, as services other than S3 do. When
  // false the path is signed encoded once, whatever encoding of it the wire carries.
  bool double_encode_path = false;
  // Header signing only: send and sign x-amz-content-sha256 (S3 requires it).
  bool add_content_sha256_header = true;
  // Add the session token after signing instead of signing it.
  bool omit_session_token = false;
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;         // lower-case hex
  std::string authorization;     // the Authorization header value; empty for a presigned query
  NameValueList headers_to_add;  // header signing: to send with the request, in this order
  NameValueList query_to_add;    // query signing: decoded, to append in this order
};

// "YYYYMMDDTHHMMSSZ" in UTC, the form of X-Amz-Date; sub-second parts are dropped.
std::string FormatAmzDate(SystemTime time);

// Signs with the Authorization header. `amz_date` is an already formatted X-Amz-Date.
// Throws Error(kInvalidInput) on a malformed request, credentials or options.
SigV4Result SignHeaders(const SigV4Request& request, const SigV4Credentials& credentials,
                        const SigV4Options& options, SystemTime now);
SigV4Result SignHeaders(const SigV4Request& request, const SigV4Credentials& credentials,
                        const SigV4Options& options, std::string_view amz_date);

// Signs with query parameters (a presigned URL) valid for `expires`, 1 s to 7 days.
SigV4Result PresignQuery(const SigV4Request& request, const SigV4Credentials& credentials,
                         const SigV4Options& options, SystemTime now, std::chrono::seconds expires);
SigV4Result PresignQuery(const SigV4Request& request, const SigV4Credentials& credentials,
                         const SigV4Options& options, std::string_view amz_date,
                         std::chrono::seconds expires);

// The key that signs strings of one day, region and service (also for chunk signatures).
Sha256Digest SigV4SigningKey(std::string_view secret_access_key, std::string_view date,
                             std::string_view region, std::string_view service);

// RFC 3986 percent-encoding of every byte except A-Za-z0-9-._~ (and '/' unless encode_slash).
std::string UriEncode(std::string_view text, bool encode_slash);

// Decodes %XX escapes ('+' stays '+'). Throws Error(kInvalidInput) on a malformed escape.
std::string UriDecode(std::string_view text);

// An S3 object key as it goes in the URL path: encoded once, '/' kept.
inline std::string EncodeS3KeyForPath(std::string_view key) {
  return UriEncode(key, false);
}

// "k1=v1&k2=v2" in the given order, each name and value encoded as SigV4 requires.
std::string EncodeQueryString(const NameValueList& params);

}  // namespace snapd
