// An S3 client on libcurl with our own SigV4 signing: the bucket and object calls k3s-snapd
// needs, each retried on transient failures within the per-operation timeout. Failures throw
// snapd::Error with one line naming the operation, s3://bucket/key, S3's error code and message
// and the HTTP status (never a secret). Not thread-safe (it owns one curl handle): give each
// thread its own client, e.g. with Clone().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_sink.h"
#include "http/http_client.h"
#include "s3/s3_endpoint.h"
#include "s3/s3_retry.h"
#include "s3/s3_xml.h"
#include "s3/sigv4_signer.h"

namespace snapd {

struct S3Config;

// Counters shared by every client of one store, read by the daemon for metrics.
struct S3Counters {
  std::atomic<uint64_t> requests{0};  // HTTP requests sent, retries included
  std::atomic<uint64_t> retries{0};   // requests repeated after a transient failure
};

struct S3ClientOptions {
  std::string endpoint = "s3.amazonaws.com";  // host[:port], or a URL with http(s)://
  std::string bucket;
  std::string region = "us-east-1";
  BucketLookup bucket_lookup = BucketLookup::kAuto;
  bool insecure = false;  // http instead of https (unless the endpoint names a scheme)
  SigV4Credentials credentials;
  TlsOptions tls;     // ca_pem from etcd-s3-endpoint-ca, skip_verify
  std::string proxy;  // "" = from the environment, "none" = none
  std::chrono::milliseconds operation_timeout{std::chrono::minutes(5)};
  RetryPolicy retry;
  const std::atomic<bool>* cancel = nullptr;  // stops transfers and retry waits
};

// Client options from the etcd-s3-* settings; reads the endpoint CA files. Throws
// Error::InvalidInput naming the setting that is wrong.
S3ClientOptions S3ClientOptionsFromConfig(const S3Config& config);

// The PEM text of etcd-s3-endpoint-ca: a space-separated list whose entries are each a
// base64-encoded PEM blob (as `base64 -w0 ca.pem` prints) or the path of a PEM file. Throws
// Error::InvalidInput naming an entry that is neither.
std::string EndpointCaPem(std::string_view endpoint_ca);

// What PutObject and CreateMultipartUpload set on the new object.
struct S3PutOptions {
  std::string content_type = "application/octet-stream";
  // User metadata, names without the "x-amz-meta-" prefix, lower case.
  std::map<std::string, std::string> metadata;
  // Send If-None-Match: * so an existing object is never replaced (kConflict instead).
  bool if_none_match = false;
};

// A request body read as it is sent (a range of a spool file), its SHA-256 known up front: the
// signature covers it and the server checks the bytes against it. Read again from the start on
// each attempt.
struct S3BodySource {
  uint64_t size = 0;
  std::string sha256_hex;
  // Fills `size` bytes at `offset` (0 <= offset < this->size); throws when it cannot.
  std::function<void(uint64_t offset, char* buffer, size_t size)> read_at;
};

struct S3ObjectHead {
  uint64_t size = 0;
  std::string etag;
  int64_t last_modified = 0;  // unix seconds
  std::string content_type;
  std::map<std::string, std::string> metadata;  // x-amz-meta-* without the prefix
};

class S3Client {
 public:
  explicit S3Client(S3ClientOptions options, std::shared_ptr<S3Counters> counters = nullptr);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // A new client (its own curl handle) with the same options and counters.
  std::unique_ptr<S3Client> Clone() const;

  // Checks the bucket exists and the credentials may use it. Throws with S3's reason:
  // NoSuchBucket, AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId or the bucket's region.
  void HeadBucket();

  // Creates the bucket (in options().region unless that is us-east-1, S3's default).
  void CreateBucket();

  // Uploads `body` with Content-MD5 and its signed SHA-256. Returns the ETag.
  std::string PutObject(const std::string& key, std::string_view body,
                        const S3PutOptions& options = {});
  // Uploads a streamed body with its signed SHA-256 (no Content-MD5). Returns the ETag.
  std::string PutObject(const std::string& key, const S3BodySource& body,
                        const S3PutOptions& options = {});
  // Throws kNotFound when the object does not exist.
  S3ObjectHead HeadObject(const std::string& key);
  // Streams the object (or `length` bytes from `offset`; length 0 = to the end) into `sink`.
  // A transfer cut midway resumes where it stopped. With `if_match` (an ETag), an object that
  // changed meanwhile fails (kConflict) instead of mixing two versions.
  void GetObject(const std::string& key, ByteSink& sink, uint64_t offset = 0, uint64_t length = 0,
                 const std::string& if_match = "");
  // A small object's body, at most `limit` bytes (a larger one throws kCorrupt). With `if_match`,
  // an object that is no longer at that ETag fails (kConflict).
  std::string GetSmallObject(const std::string& key, size_t limit = 1 << 20,
                             const std::string& if_match = "");
  // S3 answers success for a missing key too.
  void DeleteObject(const std::string& key);
  // Deletes up to 1000 keys in one request; returns those that failed.
  std::vector<S3DeleteFailure> DeleteObjects(const std::vector<std::string>& keys);

  // One page; `max_keys` 1..1000. `delimiter` "" lists the whole prefix.
  S3ListPage ListObjectsV2(const std::string& prefix, const std::string& continuation_token = "",
                           int max_keys = 1000, const std::string& delimiter = "");
  // Every object under `prefix`, following continuation tokens.
  std::vector<S3Object> ListAllObjects(const std::string& prefix, const std::string& delimiter = "",
                                       int max_keys = 1000);

  // Multipart upload. CreateMultipartUpload returns the upload id.
  std::string CreateMultipartUpload(const std::string& key, const S3PutOptions& options = {});
  // Uploads part `number` (1..10000) with its signed SHA-256, which AWS and RGW both check
  // against the body (XAmzContentSHA256Mismatch); returns its ETag.
  std::string UploadPart(const std::string& key, const std::string& upload_id, int number,
                         std::string_view body);
  std::string UploadPart(const std::string& key, const std::string& upload_id, int number,
                         const S3BodySource& body);
  // Parts in ascending number. Returns the ETag the server gave (RGW gives ""). With
  // if_none_match, an existing object is never replaced (kConflict).
  std::string CompleteMultipartUpload(const std::string& key, const std::string& upload_id,
                                      const std::vector<S3Part>& parts, bool if_none_match = false);
  // A missing upload (already aborted or completed) is not an error.
  void AbortMultipartUpload(const std::string& key, const std::string& upload_id);
  std::vector<S3Part> ListParts(const std::string& key, const std::string& upload_id);
  // Incomplete uploads of keys under `prefix`, all pages.
  std::vector<S3Upload> ListMultipartUploads(const std::string& prefix);

  // "s3://bucket/key"
  std::string Location(std::string_view key) const;
  const S3ClientOptions& options() const { return options_; }
  const S3Endpoint& endpoint() const { return endpoint_; }
  const std::shared_ptr<S3Counters>& counters() const { return counters_; }

 private:
  struct Call;
  HttpResponse Execute(const Call& call);
  HttpResponse SendOnce(const Call& call, std::chrono::steady_clock::time_point deadline);
  Error ErrorFor(const Call& call, const HttpResponse& response) const;
  bool WaitBeforeRetry(std::chrono::milliseconds delay) const;

  S3ClientOptions options_;
  S3Endpoint endpoint_;
  std::shared_ptr<S3Counters> counters_;
  HttpClient http_;
};

}  // namespace snapd
