// S3 XML bodies on pugixml.
#include "s3/s3_xml.h"

#include <array>
#include <charconv>
#include <chrono>

#include <pugixml.hpp>

#include "core/error.h"
#include "core/time_format.h"

namespace snapd {
namespace {

pugi::xml_document Parse(std::string_view body, const char* root, const char* what) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(body.data(), body.size(), pugi::parse_default);
  if (!parsed) {
    throw Error::Corrupt(std::string("S3 ") + what +
                         " response is not XML: " + parsed.description());
  }
  if (std::string_view(doc.document_element().name()) != root) {
    throw Error::Corrupt(std::string("S3 ") + what + " response is <" +
                         doc.document_element().name() + ">, expected <" + root + ">");
  }
  return doc;
}

std::string Text(const pugi::xml_node& node, const char* child) {
  return node.child(child).text().as_string();
}

template <typename T>
T Number(const pugi::xml_node& node, const char* child, const char* what) {
  std::string text = Text(node, child);
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw Error::Corrupt(std::string("S3 ") + what + " response: <" + child + "> is \"" + text +
                         "\", not a number");
  }
  return value;
}

bool Truncated(const pugi::xml_node& node) {
  return Text(node, "IsTruncated") == "true";
}

int64_t Timestamp(const pugi::xml_node& node, const char* child, const char* what) {
  std::string text = Text(node, child);
  std::optional<int64_t> time = ParseRfc3339(text);
  if (!time) {
    throw Error::Corrupt(std::string("S3 ") + what + " response: <" + child + "> is \"" + text +
                         "\", not a time");
  }
  return *time;
}

struct StringWriter final : pugi::xml_writer {
  std::string out;
  void write(const void* data, size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

std::string Serialize(const pugi::xml_document& doc) {
  StringWriter writer;
  doc.save(writer, "", pugi::format_raw);
  return writer.out;
}

pugi::xml_node AddRoot(pugi::xml_document& doc, const char* name) {
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  pugi::xml_node root = doc.append_child(name);
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  return root;
}

}  // namespace

std::optional<S3ErrorBody> ParseS3ErrorXml(std::string_view body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return std::nullopt;
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) != "Error") return std::nullopt;
  S3ErrorBody error;
  error.code = Text(root, "Code");
  error.message = Text(root, "Message");
  error.request_id = Text(root, "RequestId");
  error.region = Text(root, "Region");
  error.endpoint = Text(root, "Endpoint");
  return error;
}

S3ListPage ParseListObjectsV2Xml(std::string_view body) {
  constexpr const char* kWhat = "ListObjectsV2";
  pugi::xml_document doc = Parse(body, "ListBucketResult", kWhat);
  pugi::xml_node root = doc.document_element();
  S3ListPage page;
  for (pugi::xml_node node : root.children("Contents")) {
    S3Object object;
    object.key = Text(node, "Key");
    if (object.key.empty()) throw Error::Corrupt("S3 ListObjectsV2 response: an entry has no key");
    object.size = Number<uint64_t>(node, "Size", kWhat);
    object.etag = Text(node, "ETag");
    object.last_modified = Timestamp(node, "LastModified", kWhat);
    page.objects.push_back(std::move(object));
  }
  for (pugi::xml_node node : root.children("CommonPrefixes")) {
    page.common_prefixes.push_back(Text(node, "Prefix"));
  }
  page.truncated = Truncated(root);
  page.next_continuation_token = Text(root, "NextContinuationToken");
  if (page.truncated && page.next_continuation_token.empty()) {
    throw Error::Corrupt("S3 ListObjectsV2 response is truncated without NextContinuationToken");
  }
  return page;
}

std::string ParseInitiateMultipartUploadXml(std::string_view body) {
  pugi::xml_document doc = Parse(body, "InitiateMultipartUploadResult", "CreateMultipartUpload");
  std::string upload_id = Text(doc.document_element(), "UploadId");
  if (upload_id.empty()) throw Error::Corrupt("S3 CreateMultipartUpload response has no UploadId");
  return upload_id;
}

std::string ParseCompleteMultipartUploadXml(std::string_view body) {
  pugi::xml_document doc = Parse(body, "CompleteMultipartUploadResult", "CompleteMultipartUpload");
  return Text(doc.document_element(), "ETag");
}

S3PartsPage ParseListPartsXml(std::string_view body) {
  constexpr const char* kWhat = "ListParts";
  pugi::xml_document doc = Parse(body, "ListPartsResult", kWhat);
  pugi::xml_node root = doc.document_element();
  S3PartsPage page;
  for (pugi::xml_node node : root.children("Part")) {
    S3Part part;
    part.number = Number<int>(node, "PartNumber", kWhat);
    part.etag = Text(node, "ETag");
    part.size = Number<uint64_t>(node, "Size", kWhat);
    page.parts.push_back(std::move(part));
  }
  page.truncated = Truncated(root);
  if (page.truncated) {
    page.next_part_number_marker = Number<int>(root, "NextPartNumberMarker", kWhat);
  }
  return page;
}

S3UploadsPage ParseListMultipartUploadsXml(std::string_view body) {
  constexpr const char* kWhat = "ListMultipartUploads";
  pugi::xml_document doc = Parse(body, "ListMultipartUploadsResult", kWhat);
  pugi::xml_node root = doc.document_element();
  S3UploadsPage page;
  for (pugi::xml_node node : root.children("Upload")) {
    S3Upload upload;
    upload.key = Text(node, "Key");
    upload.upload_id = Text(node, "UploadId");
    if (upload.key.empty() || upload.upload_id.empty()) {
      throw Error::Corrupt("S3 ListMultipartUploads response: an upload has no Key or UploadId");
    }
    upload.initiated = Timestamp(node, "Initiated", kWhat);
    page.uploads.push_back(std::move(upload));
  }
  page.truncated = Truncated(root);
  page.next_key_marker = Text(root, "NextKeyMarker");
  page.next_upload_id_marker = Text(root, "NextUploadIdMarker");
  if (page.truncated && page.next_key_marker.empty()) {
    throw Error::Corrupt("S3 ListMultipartUploads response is truncated without NextKeyMarker");
  }
  return page;
}

std::vector<S3DeleteFailure> ParseDeleteResultXml(std::string_view body) {
  pugi::xml_document doc = Parse(body, "DeleteResult", "DeleteObjects");
  std::vector<S3DeleteFailure> failures;
  for (pugi::xml_node node : doc.document_element().children("Error")) {
    failures.push_back({Text(node, "Key"), Text(node, "Code"), Text(node, "Message")});
  }
  return failures;
}

std::string CompleteMultipartUploadXml(const std::vector<S3Part>& parts) {
  pugi::xml_document doc;
  pugi::xml_node root = AddRoot(doc, "CompleteMultipartUpload");
  for (const S3Part& part : parts) {
    pugi::xml_node node = root.append_child("Part");
    node.append_child("PartNumber").text() = part.number;
    node.append_child("ETag").text() = part.etag.c_str();
  }
  return Serialize(doc);
}

std::string DeleteObjectsXml(const std::vector<std::string>& keys) {
  pugi::xml_document doc;
  pugi::xml_node root = AddRoot(doc, "Delete");
  root.append_child("Quiet").text() = "true";
  for (const std::string& key : keys) {
    root.append_child("Object").append_child("Key").text() = key.c_str();
  }
  return Serialize(doc);
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": fixed positions.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  unsigned month = 0;
  while (month < 12 && kMonths[month] != text.substr(8, 3)) ++month;
  if (month == 12) return std::nullopt;
  auto field = [&](size_t pos, size_t len, int& out) {
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return ec == std::errc() && end == text.data() + pos + len;
  };
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (!field(5, 2, day) || !field(12, 4, year) || !field(17, 2, hour) || !field(20, 2, minute) ||
      !field(23, 2, second) || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' ||
      text[19] != ':' || text[22] != ':') {
    return std::nullopt;
  }
  using namespace std::chrono;
  year_month_day date{std::chrono::year(year), std::chrono::month(month + 1),
                      std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  return sys_days(date).time_since_epoch().count() * 86400LL + hour * 3600 + minute * 60 + second;
}

}  // namespace snapd
