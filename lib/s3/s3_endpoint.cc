// S3 request addressing from etcd-s3-endpoint, -bucket, -bucket-lookup-type and -insecure.
#include "s3/s3_endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace snapd {
namespace {

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && LowerAscii(text.substr(0, prefix.size())) == prefix;
}

// The host name of "host[:port]" or "[v6]:port", without the port.
std::string_view HostName(std::string_view host_port) {
  if (host_port.starts_with('[')) {
    size_t close = host_port.find(']');
    return close == std::string_view::npos ? host_port : host_port.substr(0, close + 1);
  }
  size_t colon = host_port.rfind(':');
  // More than one colon without brackets: a bare IPv6 address, no port.
  if (colon != std::string_view::npos && host_port.find(':') == colon) {
    return host_port.substr(0, colon);
  }
  return host_port;
}

}  // namespace

BucketLookup ParseBucketLookup(std::string_view text) {
  if (text == "auto" || text.empty()) return BucketLookup::kAuto;
  if (text == "dns") return BucketLookup::kDns;
  if (text == "path") return BucketLookup::kPath;
  throw Error::InvalidInput("etcd-s3-bucket-lookup-type must be auto, dns or path, got \"" +
                            std::string(text) + "\"");
}

bool IsIpAddressHost(std::string_view host) {
  std::string bare(host);
  if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, bare.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, bare.c_str(), buffer) == 1;
}

bool IsDnsCompatibleBucket(std::string_view bucket, bool allow_dots) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  if (bucket.front() == '-' || bucket.back() == '-') return false;
  if (bucket.front() == '.' || bucket.back() == '.') return false;
  if (bucket.find("..") != std::string_view::npos) return false;
  return std::all_of(bucket.begin(), bucket.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (allow_dots && c == '.');
  });
}

S3Endpoint::S3Endpoint(std::string_view endpoint, std::string bucket, BucketLookup lookup,
                       bool insecure)
    : bucket_(std::move(bucket)) {
  std::string_view rest = endpoint;
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) {
    rest.remove_prefix(1);
  }
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) {
    rest.remove_suffix(1);
  }
  // Messages are one line: control characters show as '?'.
  std::string quoted = "\"" + std::string(endpoint) + "\"";
  std::replace_if(
      quoted.begin(), quoted.end(),
      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, '?');
  if (StartsWithIgnoreCase(rest, "https://")) {
    scheme_ = "https";
    rest.remove_prefix(8);
  } else if (StartsWithIgnoreCase(rest, "http://")) {
    scheme_ = "http";
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    throw Error::InvalidInput("etcd-s3-endpoint " + quoted + ": only http and https are supported");
  } else {
    scheme_ = insecure ? "http" : "https";
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) throw Error::InvalidInput("etcd-s3-endpoint " + quoted + " has no host");
  if (rest.find('/') != std::string_view::npos) {
    throw Error::InvalidInput("etcd-s3-endpoint " + quoted +
                              " has a path; give host[:port] only (the bucket is separate)");
  }
  // White space and control characters would end up in the Host header (found by fuzzing).
  const bool odd_byte = std::any_of(rest.begin(), rest.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
  if (odd_byte || rest.find_first_of("@?#") != std::string_view::npos) {
    throw Error::InvalidInput("etcd-s3-endpoint " + quoted + " is not host[:port]");
  }
  host_ = std::string(rest);

  if (bucket_.empty()) throw Error::InvalidInput("etcd-s3-bucket is empty");
  if (bucket_.find_first_of("/?#") != std::string::npos) {
    throw Error::InvalidInput("etcd-s3-bucket \"" + bucket_ + "\" is not a bucket name");
  }

  const std::string name = LowerAscii(HostName(host_));
  is_aws_ = name == "amazonaws.com" || name.ends_with(".amazonaws.com") ||
            name.ends_with(".amazonaws.com.cn");
  // A dotted bucket under https would not match the endpoint's wildcard certificate.
  const bool dns_bucket = IsDnsCompatibleBucket(bucket_, scheme_ == "http");
  switch (lookup) {
    case BucketLookup::kPath:
      virtual_host_ = false;
      break;
    case BucketLookup::kAuto:
      virtual_host_ = is_aws_ && dns_bucket;
      break;
    case BucketLookup::kDns:
      if (IsIpAddressHost(name)) {
        throw Error::InvalidInput(
            "etcd-s3-bucket-lookup-type dns needs a host name, but "
            "etcd-s3-endpoint " +
            quoted + " is an IP address");
      }
      if (!dns_bucket) {
        throw Error::InvalidInput("etcd-s3-bucket \"" + bucket_ +
                                  "\" cannot be a host name label (etcd-s3-bucket-lookup-type "
                                  "dns); use path");
      }
      virtual_host_ = true;
      break;
  }
}

S3Target S3Endpoint::Target(std::string_view key, const NameValueList& query) const {
  S3Target target;
  if (virtual_host_) {
    target.host = bucket_ + "." + host_;
    target.path = "/" + EncodeS3KeyForPath(key);
  } else {
    target.host = host_;
    target.path = "/" + EncodeS3KeyForPath(bucket_);
    if (!key.empty()) target.path += "/" + EncodeS3KeyForPath(key);
  }
  target.url = scheme_ + "://" + target.host + target.path;
  if (!query.empty()) target.url += "?" + EncodeQueryString(query);
  return target;
}

}  // namespace snapd
