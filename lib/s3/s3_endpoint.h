// Where an S3 request goes: the URL, Host header and signed path for a bucket and key, in path
// or virtual-host style as etcd-s3-bucket-lookup-type chooses, over https or (insecure) http.
#pragma once

#include <string>
#include <string_view>

#include "s3/sigv4_signer.h"

namespace snapd {

enum class BucketLookup { kAuto, kDns, kPath };

// "auto", "dns" or "path"; throws Error::InvalidInput naming the value otherwise.
BucketLookup ParseBucketLookup(std::string_view text);

// The parts of one request's address.
struct S3Target {
  std::string url;   // scheme://host[:port]/path[?query]
  std::string host;  // the Host header, as signed
  std::string path;  // the wire path (percent-encoded once), as signed
};

class S3Endpoint {
 public:
  // `endpoint` is host[:port] as k3s takes it; a leading http:// or https:// is accepted and
  // then decides the scheme, else `insecure` does (http when true). A path other than "/",
  // userinfo, a query or an empty host throws Error::InvalidInput. `auto` lookup is
  // virtual-host style for AWS endpoints (*.amazonaws.com) when the bucket name allows it,
  // and path style for everything else (IP addresses, localhost, MinIO, Ceph...).
  S3Endpoint(std::string_view endpoint, std::string bucket, BucketLookup lookup, bool insecure);

  // The object `key` (empty: the bucket itself) with `query` (decoded, in order).
  S3Target Target(std::string_view key, const NameValueList& query = {}) const;

  const std::string& scheme() const { return scheme_; }
  const std::string& host() const { return host_; }  // the endpoint's host[:port]
  const std::string& bucket() const { return bucket_; }
  bool virtual_host() const { return virtual_host_; }
  // True for AWS's own endpoints, where regions and virtual hosts follow AWS's rules.
  bool is_aws() const { return is_aws_; }

 private:
  std::string scheme_;
  std::string host_;
  std::string bucket_;
  bool virtual_host_ = false;
  bool is_aws_ = false;
};

// True when `host` (without port; IPv6 in brackets or not) is an IPv4 or IPv6 literal.
bool IsIpAddressHost(std::string_view host);

// True when `bucket` can be a DNS label prefix: 3-63 of [a-z0-9-], no leading or trailing '-';
// dots only when `allow_dots` (a dotted bucket does not match a wildcard TLS certificate).
bool IsDnsCompatibleBucket(std::string_view bucket, bool allow_dots);

}  // namespace snapd
