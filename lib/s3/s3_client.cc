// S3Client: signed requests over HttpClient, with retries and S3 error messages.
#include "s3/s3_client.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "config/config.h"
#include "core/digest.h"
#include "core/encoding.h"
#include "core/error.h"

namespace snapd {
namespace {

using std::chrono::steady_clock;

constexpr size_t kMaxXmlBody = 32 << 20;
constexpr std::string_view kMetaPrefix = "x-amz-meta-";

std::string ContentMd5(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(body.data(), body.size(), digest, &size, EVP_md5(), nullptr) != 1) {
    throw Error::Permanent("OpenSSL: MD5 failed");
  }
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

// Server text made safe for a one-line message.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) out += (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// What well-known codes mean for the user, for servers (Ceph RGW) that send no message.
std::string HintFor(std::string_view code) {
  if (code == "NoSuchBucket") return "the bucket does not exist";
  if (code == "NoSuchKey") return "no such object";
  if (code == "AccessDenied") return "access denied";
  if (code == "SignatureDoesNotMatch") return "the secret key does not match the access key";
  if (code == "InvalidAccessKeyId") return "the access key is unknown to the server";
  if (code == "RequestTimeTooSkewed") return "this host's clock differs too much from the server's";
  if (code == "EntityTooSmall") return "a part other than the last is smaller than 5 MiB";
  if (code == "PreconditionFailed") return "the object already exists";
  return "";
}

double RandomUnit() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

// Collects a 2xx body (XML answers, small objects) up to a limit.
class LimitedStringSink final : public ByteSink {
 public:
  // `what` names the operation and object in the error.
  LimitedStringSink(std::string& out, size_t limit, std::string what)
      : out_(out), limit_(limit), what_(std::move(what)) {}
  void Write(std::string_view chunk) override {
    if (out_.size() + chunk.size() > limit_) {
      throw Error::Corrupt(what_ + ": the answer is larger than " + std::to_string(limit_) +
                           " bytes");
    }
    out_.append(chunk);
  }

 private:
  std::string& out_;
  size_t limit_;
  std::string what_;
};

void AddPutHeaders(const S3PutOptions& options, NameValueList& headers) {
  if (!options.content_type.empty()) headers.emplace_back("Content-Type", options.content_type);
  for (const auto& [name, value] : options.metadata) {
    headers.emplace_back(std::string(kMetaPrefix) + name, value);
  }
  if (options.if_none_match) headers.emplace_back("If-None-Match", "*");
}

bool IsBase64Text(std::string_view text) {
  return !text.empty() && text.size() % 4 == 0 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
  });
}

// Where a streamed GET stands, so a retry asks only for the bytes not yet delivered.
struct Resume final : ByteSink {
  ByteSink* target = nullptr;
  uint64_t start = 0;
  uint64_t length = 0;  // 0: to the end
  uint64_t delivered = 0;
  bool sink_failed = false;
  void Write(std::string_view chunk) override {
    try {
      target->Write(chunk);
    } catch (...) {
      sink_failed = true;
      throw;
    }
    delivered += chunk.size();
  }
  bool Done() const { return length > 0 && delivered >= length; }
  std::string RangeHeader() const {
    if (start + delivered == 0 && length == 0) return "";
    std::string range = "bytes=" + std::to_string(start + delivered) + "-";
    if (length > 0) range += std::to_string(start + length - 1);
    return range;
  }
};

}  // namespace

// One S3 operation as sent on each attempt.
struct S3Client::Call {
  Call(const char* op_name, std::string http_method, std::string object_key = "",
       NameValueList query_fields = {})
      : op(op_name),
        method(std::move(http_method)),
        key(std::move(object_key)),
        query(std::move(query_fields)) {}

  const char* op;
  std::string method;
  std::string key;  // empty: the bucket
  NameValueList query;
  NameValueList headers;  // sent and signed
  std::string_view body;
  const S3BodySource* source = nullptr;  // instead of body
  bool head = false;
  // CompleteMultipartUpload may answer 200 with an <Error> body.
  bool error_in_ok_body = false;
  // GetObject: receives the body and resumes a cut transfer where it stopped. Other 2xx bodies
  // (XML) land in HttpResponse::body.
  Resume* resume = nullptr;
};

std::string EndpointCaPem(std::string_view endpoint_ca) {
  std::string pem;
  std::istringstream entries{std::string(endpoint_ca)};
  std::string entry;
  while (entries >> entry) {
    std::string decoded;
    if (IsBase64Text(entry)) {
      try {
        Base64DecodeAppend(entry, decoded);
      } catch (const Error&) {
        decoded.clear();
      }
    }
    if (decoded.find("-----BEGIN") == std::string::npos) {
      std::ifstream file(entry, std::ios::binary);
      if (!file) {
        std::string shown = entry.size() > 80 ? entry.substr(0, 77) + "..." : entry;
        throw Error::InvalidInput(
            "etcd-s3-endpoint-ca: \"" + shown +
            "\" is neither base64 PEM nor a readable file: " + std::strerror(errno));
      }
      decoded.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
      if (decoded.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        throw Error::InvalidInput("etcd-s3-endpoint-ca: " + entry + " holds no PEM certificate");
      }
    }
    if (!pem.empty() && pem.back() != '\n') pem += '\n';
    pem += decoded;
  }
  return pem;
}

S3ClientOptions S3ClientOptionsFromConfig(const S3Config& config) {
  S3ClientOptions options;
  options.endpoint = config.endpoint;
  options.bucket = config.bucket;
  options.region = config.region.empty() ? "us-east-1" : config.region;
  options.bucket_lookup = ParseBucketLookup(config.bucket_lookup_type);
  options.insecure = config.insecure;
  options.credentials = {config.access_key, config.secret_key, config.session_token};
  options.tls.ca_pem = EndpointCaPem(config.endpoint_ca);
  options.tls.skip_verify = config.skip_ssl_verify;
  options.proxy = config.proxy;
  options.operation_timeout = config.timeout;
  return options;
}

S3Client::S3Client(S3ClientOptions options, std::shared_ptr<S3Counters> counters)
    : options_(std::move(options)),
      endpoint_(options_.endpoint, options_.bucket, options_.bucket_lookup, options_.insecure),
      counters_(counters ? std::move(counters) : std::make_shared<S3Counters>()) {}

S3Client::~S3Client() = default;

std::unique_ptr<S3Client> S3Client::Clone() const {
  return std::make_unique<S3Client>(options_, counters_);
}

std::string S3Client::Location(std::string_view key) const {
  std::string location = "s3://" + options_.bucket;
  if (!key.empty()) location += "/" + std::string(key);
  return location;
}

HttpResponse S3Client::SendOnce(const Call& call, steady_clock::time_point deadline) {
  S3Target target = endpoint_.Target(call.key, call.query);
  SigV4Request signing;
  signing.method = call.method;
  signing.path = target.path;
  signing.query = call.query;
  signing.headers.emplace_back("Host", target.host);
  for (const auto& header : call.headers) signing.headers.push_back(header);
  if (call.resume != nullptr) {
    if (std::string range = call.resume->RangeHeader(); !range.empty()) {
      signing.headers.emplace_back("Range", range);
    }
  }
  signing.payload_hash =
      call.source != nullptr ? call.source->sha256_hex : Sha256::HexOf(call.body);
  SigV4Options sig_options;
  sig_options.region = options_.region;
  sig_options.service = "s3";
  SigV4Result signature =
      SignHeaders(signing, options_.credentials, sig_options, std::chrono::system_clock::now());

  HttpRequest request;
  request.method = call.method;
  request.url = target.url;
  request.headers = signing.headers;
  for (const auto& header : signature.headers_to_add) request.headers.push_back(header);
  request.body = call.body;
  uint64_t sent = 0;  // of the streamed body, in this attempt
  if (call.source != nullptr) {
    request.body_size = call.source->size;
    request.body_source = [&call, &sent](char* buffer, size_t size) -> size_t {
      size_t n = static_cast<size_t>(std::min<uint64_t>(size, call.source->size - sent));
      if (n > 0) call.source->read_at(sent, buffer, n);
      sent += n;
      return n;
    };
    request.body_seek = [&sent](uint64_t offset) { sent = offset; };
  }
  request.head = call.head;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
  request.timeout = std::max(left, std::chrono::milliseconds(1000));
  request.proxy = options_.proxy;
  request.tls = options_.tls;
  request.cancel = options_.cancel;

  HttpResponse response;
  std::string ok_body;
  LimitedStringSink body_sink(ok_body, kMaxXmlBody,
                              "S3 " + std::string(call.op) + " " + Location(call.key));
  if (call.resume != nullptr) {
    request.response_sink = call.resume;
  } else if (!call.head) {
    request.response_sink = &body_sink;
  }
  counters_->requests.fetch_add(1, std::memory_order_relaxed);
  response = http_.Perform(request);
  if (response.status >= 200 && response.status < 300 && request.response_sink == &body_sink) {
    response.body = std::move(ok_body);
  }
  return response;
}

Error S3Client::ErrorFor(const Call& call, const HttpResponse& response) const {
  std::string code;
  std::string text;
  std::string request_id = response.Header("x-amz-request-id");
  std::string region = response.Header("x-amz-bucket-region");
  if (auto body = ParseS3ErrorXml(response.body)) {
    code = body->code;
    text = OneLine(body->message);
    if (text.empty()) text = HintFor(code);
    if (!body->request_id.empty()) request_id = body->request_id;
    if (!body->region.empty()) region = body->region;
    if (code == "PermanentRedirect" && !body->endpoint.empty()) {
      text += (text.empty() ? "" : "; ") + std::string("use endpoint ") + body->endpoint;
    }
  } else if (call.head || response.body.empty()) {
    // HEAD answers carry no body: name the likely cause from the status.
    if (response.status == 404) {
      code = call.key.empty() ? "NoSuchBucket" : "";
      text = call.key.empty() ? "the bucket does not exist" : "no such object";
    } else if (response.status == 403) {
      text = "access denied or wrong credentials (the answer carries no error code)";
    } else if (response.status == 301 || response.status == 307) {
      text = "the bucket is served by another endpoint or region";
    }
  }
  std::string message = "S3 " + std::string(call.op) + " " + Location(call.key) + ": ";
  if (!code.empty()) message += code;
  if (!text.empty()) message += (code.empty() ? "" : ": ") + text;
  if (code.empty() && text.empty()) {
    std::string body = OneLine(response.body.substr(0, 120));
    message += body.empty() ? "unexpected answer" : "unexpected answer \"" + body + "\"";
  }
  message += " (HTTP " + std::to_string(response.status);
  if (!request_id.empty()) message += ", request id " + request_id;
  message += ")";
  if (!region.empty() && region != options_.region) {
    message += "; the bucket is in region " + region + " but etcd-s3-region is " + options_.region;
  }
  return Error(ClassifyS3Error(response.status, code), message);
}

bool S3Client::WaitBeforeRetry(std::chrono::milliseconds delay) const {
  const auto until = steady_clock::now() + delay;
  while (steady_clock::now() < until) {
    if (options_.cancel != nullptr && options_.cancel->load()) return false;
    auto slice = std::min<steady_clock::duration>(until - steady_clock::now(),
                                                  std::chrono::milliseconds(50));
    std::this_thread::sleep_for(slice);
  }
  return options_.cancel == nullptr || !options_.cancel->load();
}

HttpResponse S3Client::Execute(const Call& call) {
  RetryBackoff backoff(options_.retry, steady_clock::now() + options_.operation_timeout);
  for (;;) {
    if (call.resume != nullptr && call.resume->Done()) return HttpResponse{200, {}, ""};
    std::optional<Error> failure;
    try {
      HttpResponse response = SendOnce(call, backoff.deadline());
      if (response.status >= 200 && response.status < 300) {
        if (!call.error_in_ok_body || !ParseS3ErrorXml(response.body)) return response;
      }
      failure = ErrorFor(call, response);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kCancelled) {
        throw Error::Cancelled("S3 " + std::string(call.op) + " " + Location(call.key) +
                               ": cancelled");
      }
      if (call.resume != nullptr && call.resume->sink_failed) throw;  // the caller's own error
      if (e.kind() == ErrorKind::kInvalidInput) {
        throw e.WithContext("S3 " + std::string(call.op) + " " + Location(call.key));
      }
      failure = e.WithContext("S3 " + std::string(call.op) + " " + Location(call.key));
    }
    auto delay = backoff.NextDelay(failure->kind(), steady_clock::now(), RandomUnit());
    if (!delay) {
      if (backoff.attempts() > 1) {
        throw Error(failure->kind(), std::string(failure->what()) + " (after " +
                                         std::to_string(backoff.attempts()) + " attempts)");
      }
      throw *failure;
    }
    counters_->retries.fetch_add(1, std::memory_order_relaxed);
    // A retry that succeeds leaves no error behind; the log is where an operator sees a flaky
    // link or a struggling server.
    spdlog::warn("{}; retrying in {} ms (attempt {})", failure->what(), delay->count(),
                 backoff.attempts() + 1);
    if (!WaitBeforeRetry(*delay)) {
      throw Error::Cancelled("S3 " + std::string(call.op) + " " + Location(call.key) +
                             ": cancelled");
    }
  }
}

void S3Client::HeadBucket() {
  Call head("HeadBucket", "HEAD");
  head.head = true;
  try {
    Execute(head);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kTransient || e.kind() == ErrorKind::kCancelled) throw;
    // A HEAD answer has no error body; the same question as a GET names S3's reason.
    Call list("HeadBucket", "GET", "", {{"list-type", "2"}, {"max-keys", "1"}});
    Execute(list);
    throw;
  }
}

void S3Client::CreateBucket() {
  std::string body;
  if (options_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        options_.region + "</LocationConstraint></CreateBucketConfiguration>";
  }
  Call call("CreateBucket", "PUT");
  call.body = body;
  Execute(call);
}

std::string S3Client::PutObject(const std::string& key, std::string_view body,
                                const S3PutOptions& options) {
  Call call("PutObject", "PUT", key);
  call.body = body;
  call.headers.emplace_back("Content-MD5", ContentMd5(body));
  AddPutHeaders(options, call.headers);
  return Execute(call).Header("etag");
}

std::string S3Client::PutObject(const std::string& key, const S3BodySource& body,
                                const S3PutOptions& options) {
  Call call("PutObject", "PUT", key);
  call.source = &body;
  AddPutHeaders(options, call.headers);
  return Execute(call).Header("etag");
}

S3ObjectHead S3Client::HeadObject(const std::string& key) {
  Call call("HeadObject", "HEAD", key);
  call.head = true;
  HttpResponse response = Execute(call);
  S3ObjectHead head;
  std::string length = response.Header("content-length");
  try {
    head.size = length.empty() ? 0 : std::stoull(length);
  } catch (const std::exception&) {
    throw Error::Corrupt("S3 HeadObject " + Location(key) + ": bad Content-Length \"" + length +
                         "\"");
  }
  head.etag = response.Header("etag");
  head.last_modified = ParseHttpDate(response.Header("last-modified")).value_or(0);
  head.content_type = response.Header("content-type");
  for (const auto& [name, value] : response.headers) {
    if (name.starts_with(kMetaPrefix)) head.metadata[name.substr(kMetaPrefix.size())] = value;
  }
  return head;
}

void S3Client::GetObject(const std::string& key, ByteSink& sink, uint64_t offset, uint64_t length,
                         const std::string& if_match) {
  Resume resume;
  resume.target = &sink;
  resume.start = offset;
  resume.length = length;
  Call call("GetObject", "GET", key);
  call.resume = &resume;
  if (!if_match.empty()) call.headers.emplace_back("If-Match", if_match);
  Execute(call);
}

std::string S3Client::GetSmallObject(const std::string& key, size_t limit,
                                     const std::string& if_match) {
  std::string body;
  LimitedStringSink sink(body, limit, "S3 GetObject " + Location(key));
  GetObject(key, sink, 0, 0, if_match);
  return body;
}

void S3Client::DeleteObject(const std::string& key) {
  Call call("DeleteObject", "DELETE", key);
  try {
    Execute(call);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotFound) throw;
  }
}

std::vector<S3DeleteFailure> S3Client::DeleteObjects(const std::vector<std::string>& keys) {
  if (keys.empty()) return {};
  if (keys.size() > 1000) throw Error::InvalidInput("S3 DeleteObjects: more than 1000 keys");
  std::string body = DeleteObjectsXml(keys);
  Call call("DeleteObjects", "POST", "", {{"delete", ""}});
  call.body = body;
  call.headers = {{"Content-MD5", ContentMd5(body)}, {"Content-Type", "application/xml"}};
  return ParseDeleteResultXml(Execute(call).body);
}

S3ListPage S3Client::ListObjectsV2(const std::string& prefix, const std::string& continuation_token,
                                   int max_keys, const std::string& delimiter) {
  Call call("ListObjectsV2", "GET", "", {{"list-type", "2"}});
  if (!continuation_token.empty())
    call.query.emplace_back("continuation-token", continuation_token);
  if (!delimiter.empty()) call.query.emplace_back("delimiter", delimiter);
  call.query.emplace_back("max-keys", std::to_string(std::clamp(max_keys, 1, 1000)));
  if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
  HttpResponse response = Execute(call);
  try {
    return ParseListObjectsV2Xml(response.body);
  } catch (const Error& e) {
    throw e.WithContext("S3 ListObjectsV2 " + Location(prefix));
  }
}

std::vector<S3Object> S3Client::ListAllObjects(const std::string& prefix,
                                               const std::string& delimiter, int max_keys) {
  std::vector<S3Object> objects;
  std::string token;
  for (;;) {
    S3ListPage page = ListObjectsV2(prefix, token, max_keys, delimiter);
    for (S3Object& object : page.objects) objects.push_back(std::move(object));
    if (!page.truncated) return objects;
    if (page.next_continuation_token == token) {
      throw Error::Corrupt("S3 ListObjectsV2 " + Location(prefix) +
                           ": the server repeated its continuation token");
    }
    token = page.next_continuation_token;
  }
}

std::string S3Client::CreateMultipartUpload(const std::string& key, const S3PutOptions& options) {
  Call call("CreateMultipartUpload", "POST", key, {{"uploads", ""}});
  S3PutOptions create = options;
  create.if_none_match = false;  // checked when the upload completes
  AddPutHeaders(create, call.headers);
  HttpResponse response = Execute(call);
  try {
    return ParseInitiateMultipartUploadXml(response.body);
  } catch (const Error& e) {
    throw e.WithContext("S3 CreateMultipartUpload " + Location(key));
  }
}

std::string S3Client::UploadPart(const std::string& key, const std::string& upload_id, int number,
                                 std::string_view body) {
  S3BodySource source;
  source.size = body.size();
  source.sha256_hex = Sha256::HexOf(body);
  source.read_at = [body](uint64_t offset, char* buffer, size_t size) {
    std::copy_n(body.data() + offset, size, buffer);
  };
  return UploadPart(key, upload_id, number, source);
}

std::string S3Client::UploadPart(const std::string& key, const std::string& upload_id, int number,
                                 const S3BodySource& body) {
  if (number < 1 || number > 10000) {
    throw Error::InvalidInput("S3 UploadPart " + Location(key) + ": part number " +
                              std::to_string(number) + " is outside 1..10000");
  }
  Call call("UploadPart", "PUT", key,
            {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}});
  // No Content-MD5: the signed payload hash already makes the server check every byte of the
  // part, and MD5 would be the costliest pass over the data (~1.6 CPU s per GiB here).
  call.source = &body;
  std::string etag = Execute(call).Header("etag");
  if (etag.empty()) {
    throw Error::Corrupt("S3 UploadPart " + Location(key) + ": part " + std::to_string(number) +
                         " was answered without an ETag");
  }
  return etag;
}

std::string S3Client::CompleteMultipartUpload(const std::string& key, const std::string& upload_id,
                                              const std::vector<S3Part>& parts,
                                              bool if_none_match) {
  std::string body = CompleteMultipartUploadXml(parts);
  Call call("CompleteMultipartUpload", "POST", key, {{"uploadId", upload_id}});
  call.body = body;
  call.error_in_ok_body = true;
  call.headers = {{"Content-Type", "application/xml"}};
  if (if_none_match) call.headers.emplace_back("If-None-Match", "*");
  HttpResponse response = Execute(call);
  try {
    return ParseCompleteMultipartUploadXml(response.body);
  } catch (const Error& e) {
    throw e.WithContext("S3 CompleteMultipartUpload " + Location(key));
  }
}

void S3Client::AbortMultipartUpload(const std::string& key, const std::string& upload_id) {
  Call call("AbortMultipartUpload", "DELETE", key, {{"uploadId", upload_id}});
  try {
    Execute(call);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotFound) throw;
  }
}

std::vector<S3Part> S3Client::ListParts(const std::string& key, const std::string& upload_id) {
  std::vector<S3Part> parts;
  int marker = 0;
  for (;;) {
    Call call("ListParts", "GET", key, {{"uploadId", upload_id}});
    if (marker > 0) call.query.emplace_back("part-number-marker", std::to_string(marker));
    S3PartsPage page;
    try {
      page = ParseListPartsXml(Execute(call).body);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kCorrupt) throw;
      throw e.WithContext("S3 ListParts " + Location(key));
    }
    for (S3Part& part : page.parts) parts.push_back(std::move(part));
    if (!page.truncated) return parts;
    if (page.next_part_number_marker <= marker) {
      throw Error::Corrupt("S3 ListParts " + Location(key) + ": the part marker did not advance");
    }
    marker = page.next_part_number_marker;
  }
}

std::vector<S3Upload> S3Client::ListMultipartUploads(const std::string& prefix) {
  std::vector<S3Upload> uploads;
  std::string key_marker;
  std::string upload_id_marker;
  for (;;) {
    Call call("ListMultipartUploads", "GET", "", {{"uploads", ""}});
    if (!key_marker.empty()) call.query.emplace_back("key-marker", key_marker);
    if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
    if (!upload_id_marker.empty()) call.query.emplace_back("upload-id-marker", upload_id_marker);
    S3UploadsPage page;
    try {
      page = ParseListMultipartUploadsXml(Execute(call).body);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kCorrupt) throw;
      throw e.WithContext("S3 ListMultipartUploads " + Location(prefix));
    }
    for (S3Upload& upload : page.uploads) uploads.push_back(std::move(upload));
    if (!page.truncated) return uploads;
    if (page.next_key_marker == key_marker && page.next_upload_id_marker == upload_id_marker) {
      throw Error::Corrupt("S3 ListMultipartUploads " + Location(prefix) +
                           ": the markers did not advance");
    }
    key_marker = page.next_key_marker;
    upload_id_marker = page.next_upload_id_marker;
  }
}

}  // namespace snapd
