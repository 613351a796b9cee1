// Tests of the pure parts of the S3 client and store: addressing, XML bodies, error
// classification and backoff, part sizes, endpoint CAs and k3s's key layout.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "config/config.h"
#include "core/encoding.h"
#include "core/error.h"
#include "s3/part_spool.h"
#include "s3/s3_client.h"
#include "s3/s3_endpoint.h"
#include "s3/s3_retry.h"
#include "s3/s3_upload.h"
#include "s3/s3_xml.h"
#include "store/s3_store.h"

using namespace snapd;
using namespace std::chrono;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kTiB = uint64_t{1} << 40;

const char* const kTestCertificate =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBfTCCASOgAwIBAgIUJ0Ob6VLZn0Qw1bEXAMPLEonlyAAAwCgYIKoZIzj0EAwIw\n"
    "-----END CERTIFICATE-----\n";

}  // namespace

TEST_CASE("endpoints: path style for IP addresses and non-AWS hosts", "[s3]") {
  S3Endpoint ip("127.0.0.1:9000", "snaps", BucketLookup::kAuto, /*insecure=*/true);
  CHECK_FALSE(ip.virtual_host());
  CHECK(ip.scheme() == "http");
  S3Target t = ip.Target("etcd/snap-1");
  CHECK(t.url == "http://127.0.0.1:9000/snaps/etcd/snap-1");
  CHECK(t.host == "127.0.0.1:9000");
  CHECK(t.path == "/snaps/etcd/snap-1");
  CHECK(ip.Target("").path == "/snaps");

  S3Endpoint minio("minio.example.com", "snaps", BucketLookup::kAuto, false);
  CHECK_FALSE(minio.virtual_host());
  CHECK(minio.Target("k").url == "https://minio.example.com/snaps/k");

  S3Endpoint v6("[::1]:9000", "snaps", BucketLookup::kAuto, true);
  CHECK(v6.Target("k").url == "http://[::1]:9000/snaps/k");
}

TEST_CASE("endpoints: virtual-host style on AWS unless forced to path", "[s3]") {
  S3Endpoint aws("s3.amazonaws.com", "my-bucket", BucketLookup::kAuto, false);
  CHECK(aws.is_aws());
  CHECK(aws.virtual_host());
  S3Target t = aws.Target("a/b c");
  CHECK(t.host == "my-bucket.s3.amazonaws.com");
  CHECK(t.url == "https://my-bucket.s3.amazonaws.com/a/b%20c");
  CHECK(aws.Target("").path == "/");

  S3Endpoint regional("s3.eu-west-1.amazonaws.com", "my-bucket", BucketLookup::kAuto, false);
  CHECK(regional.virtual_host());

  // A dotted bucket would not match AWS's wildcard certificate over https.
  S3Endpoint dotted("s3.amazonaws.com", "my.bucket", BucketLookup::kAuto, false);
  CHECK_FALSE(dotted.virtual_host());
  S3Endpoint dotted_http("s3.amazonaws.com", "my.bucket", BucketLookup::kAuto, true);
  CHECK(dotted_http.virtual_host());

  S3Endpoint forced_path("s3.amazonaws.com", "my-bucket", BucketLookup::kPath, false);
  CHECK(forced_path.Target("k").url == "https://s3.amazonaws.com/my-bucket/k");

  S3Endpoint forced_dns("minio.local:9000", "snaps", BucketLookup::kDns, true);
  CHECK(forced_dns.Target("k").url == "http://snaps.minio.local:9000/k");
  CHECK(forced_dns.Target("k").host == "snaps.minio.local:9000");
}

TEST_CASE("endpoints: a scheme given with the endpoint wins over insecure", "[s3]") {
  S3Endpoint http("http://10.0.0.5:7480/", "b1b", BucketLookup::kAuto, false);
  CHECK(http.scheme() == "http");
  CHECK(http.host() == "10.0.0.5:7480");
  S3Endpoint https("HTTPS://s3.example.com", "b1b", BucketLookup::kAuto, true);
  CHECK(https.scheme() == "https");
  CHECK(https.host() == "s3.example.com");
  S3Endpoint spaced("  s3.example.com  ", "b1b", BucketLookup::kAuto, false);
  CHECK(spaced.host() == "s3.example.com");
}

TEST_CASE("endpoints: malformed settings are refused by name", "[s3]") {
  RequireError([] { S3Endpoint("s3.example.com/bucket", "b", BucketLookup::kAuto, false); },
               ErrorKind::kInvalidInput, "has a path");
  RequireError([] { S3Endpoint("", "b", BucketLookup::kAuto, false); }, ErrorKind::kInvalidInput,
               "has no host");
  RequireError([] { S3Endpoint("ftp://host", "b", BucketLookup::kAuto, false); },
               ErrorKind::kInvalidInput, "only http and https");
  RequireError([] { S3Endpoint("user@host", "b", BucketLookup::kAuto, false); },
               ErrorKind::kInvalidInput, "not host[:port]");
  // Nothing that would reach the Host header as white space or a control character.
  for (const char* bad : {"host\r\nX-Injected: 1", "host\t:9000", "ho st", "host\x7f"}) {
    RequireError([&] { S3Endpoint(bad, "b", BucketLookup::kPath, false); },
                 ErrorKind::kInvalidInput, "not host[:port]");
  }
  RequireError([] { S3Endpoint("https://a\nb", "b", BucketLookup::kPath, false); },
               ErrorKind::kInvalidInput, "etcd-s3-endpoint \"https://a?b\" is not host[:port]");
  RequireError([] { S3Endpoint("host", "", BucketLookup::kAuto, false); }, ErrorKind::kInvalidInput,
               "etcd-s3-bucket is empty");
  RequireError([] { S3Endpoint("127.0.0.1:9000", "snaps", BucketLookup::kDns, true); },
               ErrorKind::kInvalidInput, "is an IP address");
  RequireError([] { S3Endpoint("s3.example.com", "My_Bucket", BucketLookup::kDns, false); },
               ErrorKind::kInvalidInput, "cannot be a host name label");
  RequireError([] { ParseBucketLookup("virtual"); }, ErrorKind::kInvalidInput, "auto, dns or path");
  CHECK(ParseBucketLookup("auto") == BucketLookup::kAuto);
  CHECK(ParseBucketLookup("dns") == BucketLookup::kDns);
  CHECK(ParseBucketLookup("path") == BucketLookup::kPath);
}

TEST_CASE("endpoints: keys are encoded once, with spaces and unicode", "[s3]") {
  S3Endpoint e("127.0.0.1:1", "b-1", BucketLookup::kPath, true);
  S3Target t = e.Target("my folder/\xc3\xa9t\xc3\xa9/snap+1", {{"uploadId", "a/b=c"}});
  CHECK(t.path == "/b-1/my%20folder/%C3%A9t%C3%A9/snap%2B1");
  CHECK(t.url == "http://127.0.0.1:1/b-1/my%20folder/%C3%A9t%C3%A9/snap%2B1?uploadId=a%2Fb%3Dc");
  CHECK(e.Target("", {{"uploads", ""}}).url == "http://127.0.0.1:1/b-1?uploads=");
}

TEST_CASE("endpoints: IP literals and DNS-compatible bucket names", "[s3]") {
  CHECK(IsIpAddressHost("10.1.2.3"));
  CHECK(IsIpAddressHost("[fe80::1]"));
  CHECK(IsIpAddressHost("::1"));
  CHECK_FALSE(IsIpAddressHost("localhost"));
  CHECK_FALSE(IsIpAddressHost("10.1.2.3.nip.io"));
  CHECK(IsDnsCompatibleBucket("k3s-snapshots", false));
  CHECK_FALSE(IsDnsCompatibleBucket("k3s.snapshots", false));
  CHECK(IsDnsCompatibleBucket("k3s.snapshots", true));
  CHECK_FALSE(IsDnsCompatibleBucket("ab", true));
  CHECK_FALSE(IsDnsCompatibleBucket("-abc", true));
  CHECK_FALSE(IsDnsCompatibleBucket("Abc", true));
  CHECK_FALSE(IsDnsCompatibleBucket("a..b", true));
}

TEST_CASE("retry: S3 answers are classified by status and code", "[s3]") {
  CHECK(ClassifyS3Error(503, "SlowDown") == ErrorKind::kTransient);
  CHECK(ClassifyS3Error(500, "InternalError") == ErrorKind::kTransient);
  CHECK(ClassifyS3Error(400, "RequestTimeout") == ErrorKind::kTransient);
  CHECK(ClassifyS3Error(502, "") == ErrorKind::kTransient);
  CHECK(ClassifyS3Error(429, "") == ErrorKind::kTransient);
  CHECK(ClassifyS3Error(409, "OperationAborted") == ErrorKind::kTransient);
  CHECK(ClassifyS3Error(400, "BadDigest") == ErrorKind::kTransient);  // damaged in transit
  CHECK(ClassifyS3Error(400, "XAmzContentSHA256Mismatch") == ErrorKind::kTransient);
  CHECK(ClassifyS3Error(200, "InternalError") == ErrorKind::kTransient);  // 200 + <Error> body
  CHECK(ClassifyS3Error(501, "NotImplemented") == ErrorKind::kPermanent);
  CHECK(ClassifyS3Error(403, "AccessDenied") == ErrorKind::kPermanent);
  CHECK(ClassifyS3Error(403, "SignatureDoesNotMatch") == ErrorKind::kPermanent);
  CHECK(ClassifyS3Error(403, "InvalidAccessKeyId") == ErrorKind::kPermanent);
  CHECK(ClassifyS3Error(404, "NoSuchBucket") == ErrorKind::kPermanent);
  CHECK(ClassifyS3Error(400, "EntityTooSmall") == ErrorKind::kPermanent);
  CHECK(ClassifyS3Error(403, "RequestTimeTooSkewed") == ErrorKind::kPermanent);
  CHECK(ClassifyS3Error(404, "NoSuchKey") == ErrorKind::kNotFound);
  CHECK(ClassifyS3Error(404, "NoSuchUpload") == ErrorKind::kNotFound);
  CHECK(ClassifyS3Error(404, "") == ErrorKind::kNotFound);  // HEAD
  CHECK(ClassifyS3Error(403, "") == ErrorKind::kPermanent);
  CHECK(ClassifyS3Error(412, "PreconditionFailed") == ErrorKind::kConflict);
  CHECK(ClassifyS3Error(301, "PermanentRedirect") == ErrorKind::kPermanent);
}

TEST_CASE("retry: full jitter under a doubling ceiling", "[s3]") {
  RetryPolicy policy;
  policy.first_delay = milliseconds(100);
  policy.max_delay = milliseconds(1000);
  policy.max_attempts = 100;
  const auto t0 = steady_clock::time_point() + hours(1);
  RetryBackoff backoff(policy, t0 + hours(1));
  // random just under 1 gives the ceiling: 100, 200, 400, 800, then capped at 1000.
  const std::vector<int64_t> ceilings = {100, 200, 400, 800, 1000, 1000, 1000};
  for (int64_t ceiling : ceilings) {
    auto delay = backoff.NextDelay(ErrorKind::kTransient, t0, 0.999999);
    REQUIRE(delay);
    CHECK(delay->count() >= ceiling - 1);
    CHECK(delay->count() <= ceiling);
  }
  // Low random values give short waits: the jitter spans the whole range.
  auto low = backoff.NextDelay(ErrorKind::kTransient, t0, 0.1);
  REQUIRE(low);
  CHECK(low->count() == 100);
  auto zero = backoff.NextDelay(ErrorKind::kTransient, t0, 0.0);
  REQUIRE(zero);
  CHECK(zero->count() == 0);
  CHECK(backoff.attempts() == 9);
}

TEST_CASE("retry: only transient errors, within attempts and the deadline", "[s3]") {
  const auto t0 = steady_clock::time_point() + hours(1);
  RetryPolicy policy;
  policy.first_delay = milliseconds(1000);
  policy.max_attempts = 3;

  for (ErrorKind kind : {ErrorKind::kPermanent, ErrorKind::kNotFound, ErrorKind::kConflict,
                         ErrorKind::kInvalidInput, ErrorKind::kCorrupt, ErrorKind::kCancelled}) {
    RetryBackoff backoff(policy, t0 + hours(1));
    CHECK_FALSE(backoff.NextDelay(kind, t0, 0.5));
  }

  RetryBackoff limited(policy, t0 + hours(1));
  CHECK(limited.NextDelay(ErrorKind::kTransient, t0, 0.5));
  CHECK(limited.NextDelay(ErrorKind::kTransient, t0, 0.5));
  CHECK_FALSE(limited.NextDelay(ErrorKind::kTransient, t0, 0.5));  // third failure: done

  // A wait that would reach the deadline is not taken; a shorter one is.
  RetryBackoff bounded(policy, t0 + milliseconds(400));
  CHECK_FALSE(bounded.NextDelay(ErrorKind::kTransient, t0, 0.5));  // 500 ms > 400 ms left
  RetryBackoff bounded2(policy, t0 + milliseconds(400));
  auto short_wait = bounded2.NextDelay(ErrorKind::kTransient, t0, 0.3);
  REQUIRE(short_wait);
  CHECK(short_wait->count() == 300);
  RetryBackoff expired(policy, t0);
  CHECK_FALSE(expired.NextDelay(ErrorKind::kTransient, t0 + seconds(1), 0.0));
}

TEST_CASE("xml: ListObjectsV2 pages", "[s3]") {
  const std::string body = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>f/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>f/etcd-snapshot-n1-1700000000</Key><LastModified>2023-11-14T22:13:20.000Z</LastModified>
    <ETag>&quot;0123&quot;</ETag><Size>12345678901</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>f/caf&#233; &amp; tea</Key><LastModified>2023-11-14T22:13:21Z</LastModified>
    <ETag>"abc-3"</ETag><Size>0</Size></Contents>
  <CommonPrefixes><Prefix>f/.metadata/</Prefix></CommonPrefixes>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";
  S3ListPage page = ParseListObjectsV2Xml(body);
  REQUIRE(page.objects.size() == 2);
  CHECK(page.objects[0].key == "f/etcd-snapshot-n1-1700000000");
  CHECK(page.objects[0].size == 12345678901ULL);
  CHECK(page.objects[0].etag == "\"0123\"");
  CHECK(page.objects[0].last_modified == 1700000000);
  CHECK(page.objects[1].key == "f/caf\xc3\xa9 & tea");
  CHECK(page.objects[1].last_modified == 1700000001);
  CHECK(page.common_prefixes == std::vector<std::string>{"f/.metadata/"});
  CHECK(page.truncated);
  CHECK(page.next_continuation_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

  S3ListPage last = ParseListObjectsV2Xml(
      "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount>"
      "</ListBucketResult>");
  CHECK(last.objects.empty());
  CHECK_FALSE(last.truncated);
}

TEST_CASE("xml: malformed listings throw kCorrupt", "[s3]") {
  RequireError([] { ParseListObjectsV2Xml("<ListBucketResult><Contents>"); }, ErrorKind::kCorrupt,
               "not XML");
  RequireError([] { ParseListObjectsV2Xml("<Other/>"); }, ErrorKind::kCorrupt,
               "expected <ListBucketResult>");
  RequireError(
      [] {
        ParseListObjectsV2Xml(
            "<ListBucketResult><Contents><Key>k</Key><Size>x1</Size></Contents>"
            "</ListBucketResult>");
      },
      ErrorKind::kCorrupt, "<Size> is \"x1\"");
  RequireError(
      [] {
        ParseListObjectsV2Xml(
            "<ListBucketResult><Contents><Key>k</Key><Size>1</Size>"
            "<LastModified>yesterday</LastModified></Contents></ListBucketResult>");
      },
      ErrorKind::kCorrupt, "not a time");
  RequireError(
      [] {
        ParseListObjectsV2Xml(
            "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>");
      },
      ErrorKind::kCorrupt, "without NextContinuationToken");
}

TEST_CASE("xml: error bodies", "[s3]") {
  auto error = ParseS3ErrorXml(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message>
<Region>eu-west-1</Region><RequestId>ABC123</RequestId><HostId>h</HostId></Error>)");
  REQUIRE(error);
  CHECK(error->code == "AuthorizationHeaderMalformed");
  CHECK(error->region == "eu-west-1");
  CHECK(error->request_id == "ABC123");
  CHECK(error->message.find("expecting 'eu-west-1'") != std::string::npos);

  // RGW's: an empty message and extra fields.
  auto rgw = ParseS3ErrorXml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>"
      "<Message></Message><RequestId>tx0000</RequestId><HostId>x</HostId></Error>");
  REQUIRE(rgw);
  CHECK(rgw->code == "SignatureDoesNotMatch");
  CHECK(rgw->message.empty());

  CHECK_FALSE(ParseS3ErrorXml(""));
  CHECK_FALSE(ParseS3ErrorXml("<html>Bad Gateway</html>"));
  CHECK_FALSE(ParseS3ErrorXml("Service Unavailable"));
  CHECK_FALSE(ParseS3ErrorXml("<CompleteMultipartUploadResult/>"));
}

TEST_CASE("xml: multipart answers", "[s3]") {
  CHECK(ParseInitiateMultipartUploadXml(
            "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Bucket>b</Bucket><Key>k</Key><UploadId>2~abc</UploadId>"
            "</InitiateMultipartUploadResult>") == "2~abc");
  RequireError(
      [] {
        ParseInitiateMultipartUploadXml(
            "<InitiateMultipartUploadResult></InitiateMultipartUploadResult>");
      },
      ErrorKind::kCorrupt, "no UploadId");
  // RGW answers an empty ETag.
  CHECK(ParseCompleteMultipartUploadXml(
            "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket>"
            "<Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>")
            .empty());
  CHECK(ParseCompleteMultipartUploadXml(
            "<CompleteMultipartUploadResult><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
            "</CompleteMultipartUploadResult>") == "\"3858f62230ac3c915f300c664312c11f-9\"");
  RequireError([] { ParseCompleteMultipartUploadXml("<Error><Code>InternalError</Code></Error>"); },
               ErrorKind::kCorrupt, "expected <CompleteMultipartUploadResult>");

  S3PartsPage parts = ParseListPartsXml(
      "<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2"
      "</NextPartNumberMarker><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag><Size>8388608"
      "</Size></Part><Part><PartNumber>2</PartNumber><ETag>\"b\"</ETag><Size>5</Size></Part>"
      "</ListPartsResult>");
  REQUIRE(parts.parts.size() == 2);
  CHECK(parts.parts[0].number == 1);
  CHECK(parts.parts[0].size == 8388608);
  CHECK(parts.parts[1].etag == "\"b\"");
  CHECK(parts.truncated);
  CHECK(parts.next_part_number_marker == 2);

  S3UploadsPage uploads = ParseListMultipartUploadsXml(
      "<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>false</IsTruncated>"
      "<Upload><Key>f/on-demand-n-1700000000</Key><UploadId>2~x</UploadId>"
      "<Initiated>2023-11-14T22:13:20.000Z</Initiated></Upload></ListMultipartUploadsResult>");
  REQUIRE(uploads.uploads.size() == 1);
  CHECK(uploads.uploads[0].key == "f/on-demand-n-1700000000");
  CHECK(uploads.uploads[0].upload_id == "2~x");
  CHECK(uploads.uploads[0].initiated == 1700000000);
  CHECK_FALSE(uploads.truncated);

  std::vector<S3DeleteFailure> failures = ParseDeleteResultXml(
      "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>"
      "<Message>no</Message></Error></DeleteResult>");
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].key == "b");
  CHECK(failures[0].code == "AccessDenied");
}

TEST_CASE("xml: request bodies escape keys and keep part order", "[s3]") {
  std::string complete = CompleteMultipartUploadXml({{1, "\"e1\"", 0}, {2, "\"e&2\"", 0}});
  pugi::xml_document doc;
  REQUIRE(doc.load_string(complete.c_str()));
  pugi::xml_node root = doc.child("CompleteMultipartUpload");
  REQUIRE(root);
  std::vector<std::string> seen;
  for (pugi::xml_node part : root.children("Part")) {
    seen.push_back(std::string(part.child("PartNumber").text().as_string()) + " " +
                   part.child("ETag").text().as_string());
  }
  CHECK(seen == std::vector<std::string>{"1 \"e1\"", "2 \"e&2\""});
  CHECK(complete.find("e&amp;2") != std::string::npos);

  std::string del = DeleteObjectsXml({"f/a<b>", "f/.metadata/a<b>"});
  REQUIRE(doc.load_string(del.c_str()));
  CHECK(std::string(doc.child("Delete").child("Quiet").text().as_string()) == "true");
  std::vector<std::string> keys;
  for (pugi::xml_node object : doc.child("Delete").children("Object")) {
    keys.push_back(object.child("Key").text().as_string());
  }
  CHECK(keys == std::vector<std::string>{"f/a<b>", "f/.metadata/a<b>"});
}

TEST_CASE("xml: DeleteObjects of 1000 keys and its answers", "[s3]") {
  // As AWS documents it: <Delete><Quiet>true</Quiet><Object><Key>...</Key></Object>...</Delete>,
  // at most 1000 objects, in the order given.
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("f/etcd-snapshot-n-" + std::to_string(i));
  keys.back() = "f/.metadata/a&b";
  std::string body = DeleteObjectsXml(keys);
  pugi::xml_document doc;
  REQUIRE(doc.load_string(body.c_str()));
  pugi::xml_node root = doc.child("Delete");
  REQUIRE(root);
  CHECK(std::string(root.attribute("xmlns").as_string()) ==
        "http://s3.amazonaws.com/doc/2006-03-01/");
  std::vector<std::string> sent;
  for (pugi::xml_node object : root.children("Object")) {
    sent.push_back(object.child("Key").text().as_string());
  }
  CHECK(sent == keys);

  // Quiet mode: an empty result is complete success.
  CHECK(ParseDeleteResultXml(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></DeleteResult>")
            .empty());
  // Partial failure: each key that failed, with its own code and message.
  std::vector<S3DeleteFailure> failures = ParseDeleteResultXml(
      "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Error><Key>f/a</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
      "<Deleted><Key>f/b</Key></Deleted>"
      "<Error><Key>f/.metadata/a&amp;b</Key><Code>InternalError</Code></Error>"
      "</DeleteResult>");
  REQUIRE(failures.size() == 2);
  CHECK(failures[0].key == "f/a");
  CHECK(failures[0].message == "Access Denied");
  CHECK(failures[1].key == "f/.metadata/a&b");
  CHECK(failures[1].code == "InternalError");
  CHECK(failures[1].message.empty());
  // Not a DeleteResult at all (a proxy's page, an <Error> document): refused, not "all deleted".
  RequireError([] { ParseDeleteResultXml("<html>bad gateway</html>"); }, ErrorKind::kCorrupt,
               "DeleteObjects");
  RequireError([] { ParseDeleteResultXml(""); }, ErrorKind::kCorrupt, "DeleteObjects");
}

TEST_CASE("xml: HTTP dates", "[s3]") {
  CHECK(ParseHttpDate("Tue, 14 Nov 2023 22:13:20 GMT") == 1700000000);
  CHECK(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(ParseHttpDate("Thu, 29 Feb 2024 12:00:01 GMT") == 1709208001);
  CHECK_FALSE(ParseHttpDate("Tue, 14 Nov 2023 22:13:20 UTC"));
  CHECK_FALSE(ParseHttpDate("Tue, 31 Feb 2023 22:13:20 GMT"));
  CHECK_FALSE(ParseHttpDate("2023-11-14T22:13:20Z"));
  CHECK_FALSE(ParseHttpDate(""));
}

TEST_CASE("part sizes: 8 MiB or an accurate hint in at most 9000 parts", "[s3]") {
  CHECK(InitialPartSize(0) == 8 * kMiB);
  CHECK(InitialPartSize(40 * kMiB) == 8 * kMiB);
  CHECK(InitialPartSize(70 * kGiB) == 8 * kMiB);  // 70 GiB / 9000 < 8 MiB
  CHECK(InitialPartSize(100 * kGiB) == 12 * kMiB);
  CHECK(InitialPartSize(100 * kGiB) * 9000 >= 100 * kGiB);
  CHECK(InitialPartSize(5 * kTiB) % kMiB == 0);
  CHECK(InitialPartSize(5 * kTiB) * 9000 >= 5 * kTiB);
  CHECK(InitialPartSize(uint64_t{1} << 60) == kS3MaxPartSize);
}

TEST_CASE("part sizes: doubling every 900 parts fits any size under 10,000 parts", "[s3]") {
  CHECK(PartSizeFor(1, 8 * kMiB) == 8 * kMiB);
  CHECK(PartSizeFor(900, 8 * kMiB) == 8 * kMiB);
  CHECK(PartSizeFor(901, 8 * kMiB) == 16 * kMiB);
  CHECK(PartSizeFor(1801, 8 * kMiB) == 32 * kMiB);
  CHECK(PartSizeFor(1, kMiB) == kS3MinPartSize);
  CHECK(PartSizeFor(10000, 600 * kMiB) == kS3MaxPartSize);

  for (uint64_t initial : {kS3MinPartSize, 8 * kMiB, 12 * kMiB, 600 * kMiB, kS3MaxPartSize}) {
    uint64_t capacity = 0;
    uint64_t smallest = UINT64_MAX;
    uint64_t largest = 0;
    for (int part = 1; part <= kS3MaxParts; ++part) {
      uint64_t size = PartSizeFor(part, initial);
      smallest = std::min(smallest, size);
      largest = std::max(largest, size);
      capacity += size;
    }
    INFO("initial part size " << initial);
    CHECK(smallest >= kS3MinPartSize);
    CHECK(largest <= kS3MaxPartSize);
    CHECK(capacity >= 5 * kTiB);  // S3's largest object
  }
  // Without a hint, an 8 GiB etcd database (its largest advised quota) takes 962 parts:
  // 900 of 8 MiB and 62 of 16 MiB.
  uint64_t total = 0;
  int parts = 0;
  while (total < 8 * kGiB) total += PartSizeFor(++parts, InitialPartSize(0));
  CHECK(parts == 962);
  // 50 GiB, far past etcd's quota, still fits with parts of 8 MiB and more.
  total = 0;
  parts = 0;
  while (total < 50 * kGiB) total += PartSizeFor(++parts, InitialPartSize(0));
  CHECK(parts <= kS3MaxParts);
}

TEST_CASE("part spool: unlinked, read back at any offset, sent ranges released", "[s3]") {
  char dir_template[] = "/tmp/part-spool-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  {
    PartSpool spool(dir);
    std::string data;
    for (int i = 0; i < 300000; ++i) data += static_cast<char>('a' + i % 26);
    spool.Append(std::string_view(data).substr(0, 100000));
    spool.Append(std::string_view(data).substr(100000));
    CHECK(spool.size() == data.size());
    std::string back(5000, '\0');
    spool.ReadAt(123456, back.data(), back.size());
    CHECK(back == data.substr(123456, 5000));
    spool.Release(0, 200000);  // a sent range: its bytes may be gone, the rest is intact
    spool.ReadAt(200000, back.data(), back.size());
    CHECK(back == data.substr(200000, 5000));
    RequireError([&] { spool.ReadAt(data.size() - 10, back.data(), back.size()); },
                 ErrorKind::kPermanent, "spool in " + dir);
    // Nothing of it is visible in the directory, even while it is open.
    CHECK(::rmdir(dir.c_str()) == 0);
  }
  RequireError([&] { PartSpool missing(dir); }, ErrorKind::kNotFound, "spool in " + dir);
}

TEST_CASE("store keys: k3s's path.Join layout without double slashes", "[s3]") {
  CHECK(CleanS3Folder("") == "");
  CHECK(CleanS3Folder("/") == "");
  CHECK(CleanS3Folder("etcd") == "etcd");
  CHECK(CleanS3Folder("/etcd//backups/") == "etcd/backups");
  CHECK(CleanS3Folder("./a/./b/../c") == "a/c");
  CHECK(CleanS3Folder("../../a") == "a");
  CHECK(CleanS3Folder("my folder/\xc3\xa9t\xc3\xa9") == "my folder/\xc3\xa9t\xc3\xa9");

  CHECK(S3SnapshotKey("", "etcd-snapshot-n-1") == "etcd-snapshot-n-1");
  CHECK(S3SnapshotKey("f/", "etcd-snapshot-n-1") == "f/etcd-snapshot-n-1");
  CHECK(S3MetadataKey("", "etcd-snapshot-n-1") == ".metadata/etcd-snapshot-n-1");
  CHECK(S3MetadataKey("/a/b/", "x.zip") == "a/b/.metadata/x.zip");
}

TEST_CASE("endpoint CA: base64 blobs and PEM files, space-separated", "[s3]") {
  char dir_template[] = "/tmp/s3-unit-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string file = dir + "/ca.pem";
  {
    std::ofstream out(file);
    out << kTestCertificate;
  }
  const std::string blob = Base64Encode(kTestCertificate);

  CHECK(EndpointCaPem("") == "");
  CHECK(EndpointCaPem(blob) == kTestCertificate);
  CHECK(EndpointCaPem(file) == kTestCertificate);
  CHECK(EndpointCaPem(file + " " + blob) == std::string(kTestCertificate) + kTestCertificate);
  RequireError([&] { EndpointCaPem(dir + "/missing.pem"); }, ErrorKind::kInvalidInput,
               "neither base64 PEM nor a readable file");
  // Base64 that decodes to something other than PEM is taken as a (missing) path.
  RequireError([&] { EndpointCaPem(Base64Encode("not a certificate")); }, ErrorKind::kInvalidInput,
               "neither base64 PEM");
  {
    std::ofstream out(dir + "/junk.pem");
    out << "junk";
  }
  RequireError([&] { EndpointCaPem(dir + "/junk.pem"); }, ErrorKind::kInvalidInput,
               "holds no PEM certificate");
  std::remove(file.c_str());
  std::remove((dir + "/junk.pem").c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("client options follow the etcd-s3 settings", "[s3]") {
  S3Config config;
  config.endpoint = "10.0.0.1:7480";
  config.bucket = "snaps";
  config.region = "";
  config.bucket_lookup_type = "path";
  config.insecure = true;
  config.access_key = "AK";
  config.secret_key = "SK";
  config.session_token = "TOKEN";
  config.skip_ssl_verify = true;
  config.proxy = "none";
  config.timeout = seconds(30);
  S3ClientOptions options = S3ClientOptionsFromConfig(config);
  CHECK(options.region == "us-east-1");
  CHECK(options.bucket_lookup == BucketLookup::kPath);
  CHECK(options.credentials.session_token == "TOKEN");
  CHECK(options.tls.skip_verify);
  CHECK(options.tls.ca_pem.empty());
  CHECK(options.proxy == "none");
  CHECK(options.operation_timeout == seconds(30));
  S3Client client(options);
  CHECK(client.endpoint().Target("k").url == "http://10.0.0.1:7480/snaps/k");
  CHECK(client.Location("f/k") == "s3://snaps/f/k");

  config.bucket_lookup_type = "sideways";
  RequireError([&] { S3ClientOptionsFromConfig(config); }, ErrorKind::kInvalidInput,
               "etcd-s3-bucket-lookup-type");
}
