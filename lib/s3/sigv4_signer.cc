// AWS Signature Version 4: canonicalization of path, query and headers, and the HMAC chain.
#include "s3/sigv4_signer.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/error.h"

namespace snapd {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
// SigV4 caps presigned URLs at seven days.
constexpr std::chrono::seconds kMaxExpires{7 * 24 * 3600};

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ToLowerAscii(a) == ToLowerAscii(b);
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

// Trims the value and collapses each run of blanks inside it to one space.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (IsBlank(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

void CheckNoLineBreak(std::string_view text, std::string_view what) {
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    throw Error::InvalidInput("SigV4: " + std::string(what) + " contains a line break");
  }
}

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void CheckAmzDate(std::string_view amz_date) {
  bool ok = amz_date.size() == 16 && amz_date[8] == 'T' && amz_date[15] == 'Z';
  for (size_t i = 0; ok && i < 15; ++i) {
    if (i != 8 && (amz_date[i] < '0' || amz_date[i] > '9')) ok = false;
  }
  if (!ok) {
    throw Error::InvalidInput("SigV4: time '" + std::string(amz_date) +
                              "' is not of the form YYYYMMDDTHHMMSSZ");
  }
}

void CheckInputs(const SigV4Request& request, const SigV4Credentials& credentials,
                 const SigV4Options& options, std::string_view amz_date) {
  CheckAmzDate(amz_date);
  if (request.method.empty() || !std::all_of(request.method.begin(), request.method.end(),
                                             [](char c) { return c >= 'A' && c <= 'Z'; })) {
    throw Error::InvalidInput("SigV4: method '" + request.method + "' is not an upper-case token");
  }
  if (credentials.access_key_id.empty()) throw Error::InvalidInput("SigV4: empty access key id");
  if (credentials.secret_access_key.empty()) {
    throw Error::InvalidInput("SigV4: empty secret access key");
  }
  CheckNoLineBreak(credentials.session_token, "session token");
  if (options.region.empty()) throw Error::InvalidInput("SigV4: empty region");
  if (options.service.empty()) throw Error::InvalidInput("SigV4: empty service");
  const std::string& hash = request.payload_hash;
  if (!IsLowerHex64(hash) && hash != "UNSIGNED-PAYLOAD" && !hash.starts_with("STREAMING-")) {
    throw Error::InvalidInput("SigV4: payload hash '" + hash +
                              "' is neither lower-case hex SHA-256, UNSIGNED-PAYLOAD nor "
                              "STREAMING-...");
  }
  CheckNoLineBreak(hash, "payload hash");
}

// Removes "." and empty segments and resolves "..", keeping a trailing slash.
std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string out;
  for (std::string_view segment : segments) {
    out += '/';
    out += segment;
  }
  if (segments.empty() || path.ends_with('/')) out += '/';
  return out;
}

std::string CanonicalPath(std::string_view path, const SigV4Options& options) {
  if (path.empty()) path = "/";
  if (path.front() != '/') {
    throw Error::InvalidInput("SigV4: path '" + std::string(path) + "' does not start with '/'");
  }
  if (path.find('?') != std::string_view::npos) {
    throw Error::InvalidInput("SigV4: path '" + std::string(path) + "' carries a query");
  }
  CheckNoLineBreak(path, "path");
  // Decoding first makes the single encoding independent of how the wire path was escaped, as
  // S3 derives it from the decoded key.
  std::string encoded =
      options.double_encode_path ? UriEncode(path, false) : UriEncode(UriDecode(path), false);
  return options.normalize_path ? NormalizePath(encoded) : encoded;
}

std::string CanonicalQuery(const NameValueList& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    encoded.emplace_back(UriEncode(name, true), UriEncode(value, true));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

struct CanonicalHeaders {
  std::string block;           // "name:value\n" per header name, sorted
  std::string signed_headers;  // "name1;name2"
};

CanonicalHeaders CanonicalizeHeaders(const NameValueList& headers) {
  // Values of a repeated name are joined in the order they were given.
  std::map<std::string, std::vector<std::string>> by_name;
  for (const auto& [name, value] : headers) {
    std::string lower = ToLowerAscii(CanonicalHeaderValue(name));
    if (lower.empty()) throw Error::InvalidInput("SigV4: empty header name");
    CheckNoLineBreak(lower, "header name");
    CheckNoLineBreak(value, "value of header " + lower);
    by_name[lower].push_back(CanonicalHeaderValue(value));
  }
  if (!by_name.contains("host")) throw Error::InvalidInput("SigV4: request has no Host header");
  CanonicalHeaders out;
  for (const auto& [name, values] : by_name) {
    out.block += name;
    out.block += ':';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out.block += ',';
      out.block += values[i];
    }
    out.block += '\n';
    if (!out.signed_headers.empty()) out.signed_headers += ';';
    out.signed_headers += name;
  }
  return out;
}

bool HasName(const NameValueList& fields, std::string_view name) {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const auto& field) { return EqualsIgnoreCase(field.first, name); });
}

std::string CredentialScope(std::string_view amz_date, const SigV4Options& options) {
  return std::string(amz_date.substr(0, 8)) + "/" + options.region + "/" + options.service +
         "/aws4_request";
}

// Fills canonical_request, string_to_sign and signature.
void Sign(const SigV4Request& request, const std::string& canonical_query,
          const CanonicalHeaders& headers, const SigV4Credentials& credentials,
          const SigV4Options& options, std::string_view amz_date, SigV4Result& result) {
  result.canonical_request = request.method + "\n" + CanonicalPath(request.path, options) + "\n" +
                             canonical_query + "\n" + headers.block + "\n" +
                             headers.signed_headers + "\n" + request.payload_hash;
  result.string_to_sign = std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" +
                          CredentialScope(amz_date, options) + "\n" +
                          Sha256::HexOf(result.canonical_request);
  Sha256Digest key = SigV4SigningKey(credentials.secret_access_key, amz_date.substr(0, 8),
                                     options.region, options.service);
  std::string_view key_bytes(reinterpret_cast<const char*>(key.data()), key.size());
  result.signature = DigestHex(HmacSha256(key_bytes, result.string_to_sign));
}

}  // namespace

std::string FormatAmzDate(SystemTime time) {
  using namespace std::chrono;
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{floor<seconds>(time - day)};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d%02u%02uT%02ld%02ld%02lldZ", int(date.year()),
                unsigned(date.month()), unsigned(date.day()), long(clock.hours().count()),
                long(clock.minutes().count()), static_cast<long long>(clock.seconds().count()));
  return buffer;
}

SigV4Result SignHeaders(const SigV4Request& request, const SigV4Credentials& credentials,
                        const SigV4Options& options, SystemTime now) {
  return SignHeaders(request, credentials, options, FormatAmzDate(now));
}

SigV4Result SignHeaders(const SigV4Request& request, const SigV4Credentials& credentials,
                        const SigV4Options& options, std::string_view amz_date) {
  CheckInputs(request, credentials, options, amz_date);
  const bool has_token = !credentials.session_token.empty();
  const bool sign_token = has_token && !options.omit_session_token;

  SigV4Result result;
  // The suite's (aws-c-auth's) order and spelling.
  if (has_token) {
    result.headers_to_add.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  result.headers_to_add.emplace_back("X-Amz-Date", std::string(amz_date));
  if (options.add_content_sha256_header) {
    result.headers_to_add.emplace_back("x-amz-content-sha256", request.payload_hash);
  }
  for (const auto& [name, value] : result.headers_to_add) {
    if (HasName(request.headers, name)) {
      throw Error::InvalidInput("SigV4: request already has header " + name);
    }
  }
  if (HasName(request.headers, "Authorization")) {
    throw Error::InvalidInput("SigV4: request already has header Authorization");
  }

  NameValueList signed_fields = request.headers;
  for (const auto& field : result.headers_to_add) {
    if (sign_token || field.first != "X-Amz-Security-Token") signed_fields.push_back(field);
  }
  const CanonicalHeaders headers = CanonicalizeHeaders(signed_fields);
  Sign(request, CanonicalQuery(request.query), headers, credentials, options, amz_date, result);
  result.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id +
                         "/" + CredentialScope(amz_date, options) +
                         ", SignedHeaders=" + headers.signed_headers +
                         ", Signature=" + result.signature;
  result.headers_to_add.emplace_back("Authorization", result.authorization);
  return result;
}

SigV4Result PresignQuery(const SigV4Request& request, const SigV4Credentials& credentials,
                         const SigV4Options& options, SystemTime now,
                         std::chrono::seconds expires) {
  return PresignQuery(request, credentials, options, FormatAmzDate(now), expires);
}

SigV4Result PresignQuery(const SigV4Request& request, const SigV4Credentials& credentials,
                         const SigV4Options& options, std::string_view amz_date,
                         std::chrono::seconds expires) {
  CheckInputs(request, credentials, options, amz_date);
  if (expires.count() < 1 || expires > kMaxExpires) {
    throw Error::InvalidInput("SigV4: presigned URL lifetime of " +
                              std::to_string(expires.count()) + " s is outside 1 s to 7 days");
  }
  const CanonicalHeaders headers = CanonicalizeHeaders(request.headers);

  SigV4Result result;
  result.query_to_add = {
      {"X-Amz-Algorithm", std::string(kAlgorithm)},
      {"X-Amz-Credential", credentials.access_key_id + "/" + CredentialScope(amz_date, options)},
      {"X-Amz-Date", std::string(amz_date)},
      {"X-Amz-SignedHeaders", headers.signed_headers},
      {"X-Amz-Expires", std::to_string(expires.count())},
  };
  if (!credentials.session_token.empty()) {
    result.query_to_add.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  for (std::string_view name :
       {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires",
        "X-Amz-Security-Token", "X-Amz-Signature"}) {
    if (HasName(request.query, name)) {
      throw Error::InvalidInput("SigV4: request query already has " + std::string(name));
    }
  }

  NameValueList signed_query = request.query;
  for (const auto& param : result.query_to_add) {
    if (!options.omit_session_token || param.first != "X-Amz-Security-Token") {
      signed_query.push_back(param);
    }
  }
  Sign(request, CanonicalQuery(signed_query), headers, credentials, options, amz_date, result);
  result.query_to_add.emplace_back("X-Amz-Signature", result.signature);
  return result;
}

Sha256Digest SigV4SigningKey(std::string_view secret_access_key, std::string_view date,
                             std::string_view region, std::string_view service) {
  auto as_key = [](const Sha256Digest& digest) {
    return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
  };
  std::string key = as_key(HmacSha256("AWS4" + std::string(secret_access_key), date));
  key = as_key(HmacSha256(key, region));
  key = as_key(HmacSha256(key, service));
  return HmacSha256(key, "aws4_request");
}

std::string UriEncode(std::string_view text, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (IsUnreserved(c) || (c == '/' && !encode_slash)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
  return out;
}

std::string UriDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      throw Error::InvalidInput("malformed percent-escape in '" + std::string(text) + "'");
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::string EncodeQueryString(const NameValueList& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += UriEncode(name, true);
    out += '=';
    out += UriEncode(value, true);
  }
  return out;
}

}  // namespace snapd
