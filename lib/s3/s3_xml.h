// S3's XML request and response bodies (and its HTTP date header), parsed with pugixml. Pure:
// parsers take the body text and throw Error::Corrupt naming what is malformed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace snapd {

// An <Error> body. Fields absent from the body are empty.
struct S3ErrorBody {
  std::string code;        // e.g. "NoSuchBucket"
  std::string message;     // human text, may be empty
  std::string request_id;  // RequestId
  std::string region;      // AuthorizationHeaderMalformed and redirects name the right region
  std::string endpoint;    // PermanentRedirect names the endpoint to use
};

// The <Error> document in `body`, or nullopt when it is not one (empty, other XML, not XML).
std::optional<S3ErrorBody> ParseS3ErrorXml(std::string_view body);

struct S3Object {
  std::string key;
  uint64_t size = 0;
  std::string etag;           // as the server quotes it
  int64_t last_modified = 0;  // unix seconds
};

struct S3ListPage {
  std::vector<S3Object> objects;
  std::vector<std::string> common_prefixes;  // with a delimiter: the "sub-folders"
  bool truncated = false;
  std::string next_continuation_token;  // set when truncated
};

// ListBucketResult of ListObjectsV2.
S3ListPage ParseListObjectsV2Xml(std::string_view body);

// InitiateMultipartUploadResult: the UploadId.
std::string ParseInitiateMultipartUploadXml(std::string_view body);

// CompleteMultipartUploadResult: the ETag, which may be empty (Ceph RGW sends "").
std::string ParseCompleteMultipartUploadXml(std::string_view body);

struct S3Part {
  int number = 0;
  std::string etag;
  uint64_t size = 0;
};

struct S3PartsPage {
  std::vector<S3Part> parts;
  bool truncated = false;
  int next_part_number_marker = 0;
};

// ListPartsResult.
S3PartsPage ParseListPartsXml(std::string_view body);

struct S3Upload {
  std::string key;
  std::string upload_id;
  int64_t initiated = 0;  // unix seconds
};

struct S3UploadsPage {
  std::vector<S3Upload> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

// ListMultipartUploadsResult.
S3UploadsPage ParseListMultipartUploadsXml(std::string_view body);

struct S3DeleteFailure {
  std::string key;
  std::string code;
  std::string message;
};

// DeleteResult of DeleteObjects: the keys that could not be deleted (quiet mode lists only
// those).
std::vector<S3DeleteFailure> ParseDeleteResultXml(std::string_view body);

// The CompleteMultipartUpload request body, parts in the order given.
std::string CompleteMultipartUploadXml(const std::vector<S3Part>& parts);

// The DeleteObjects request body in quiet mode (only failures are answered).
std::string DeleteObjectsXml(const std::vector<std::string>& keys);

// An HTTP date (RFC 7231 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") as unix seconds.
std::optional<int64_t> ParseHttpDate(std::string_view text);

}  // namespace snapd
