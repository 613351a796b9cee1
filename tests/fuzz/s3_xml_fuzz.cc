// Fuzzes the S3 response parsers (every XML body, the HTTP Date header) and the RFC 3339 times
// inside them; checks the request bodies we write survive keys with XML's special characters.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "core/error.h"
#include "core/time_format.h"
#include "fuzz_input.h"
#include "s3/s3_xml.h"
#include "snapshot/snapshot_name.h"

using snapd::fuzz::Check;

namespace {

template <typename Parse>
void ExpectCorruptOrValue(Parse&& parse) {
  try {
    parse();
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kCorrupt, "S3 bodies are refused as corrupt");
  }
}

void ParseBodies(std::string_view body) {
  (void)snapd::ParseS3ErrorXml(body);  // never throws: not an <Error> is nullopt
  ExpectCorruptOrValue([&] {
    snapd::S3ListPage page = snapd::ParseListObjectsV2Xml(body);
    for (const snapd::S3Object& object : page.objects) Check(!object.key.empty(), "keys are set");
    Check(!page.truncated || !page.next_continuation_token.empty(), "truncated pages go on");
  });
  ExpectCorruptOrValue(
      [&] { Check(!snapd::ParseInitiateMultipartUploadXml(body).empty(), "an upload has an id"); });
  ExpectCorruptOrValue([&] { (void)snapd::ParseCompleteMultipartUploadXml(body); });
  ExpectCorruptOrValue([&] { (void)snapd::ParseListPartsXml(body); });
  ExpectCorruptOrValue([&] {
    snapd::S3UploadsPage page = snapd::ParseListMultipartUploadsXml(body);
    Check(!page.truncated || !page.next_key_marker.empty(), "truncated upload lists go on");
  });
  ExpectCorruptOrValue([&] { (void)snapd::ParseDeleteResultXml(body); });
}

// An HTTP date means the same instant as the RFC 3339 time written from its fields.
void CheckHttpDate(std::string_view text) {
  const std::optional<int64_t> date = snapd::ParseHttpDate(text);
  if (!date) return;
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const size_t month = kMonths.find(text.substr(8, 3));
  Check(month != std::string_view::npos && month % 3 == 0, "a parsed date has a month name");
  char month_digits[3];
  std::snprintf(month_digits, sizeof month_digits, "%02zu", month / 3 + 1);
  const std::string rfc3339 = std::string(text.substr(12, 4)) + "-" + month_digits + "-" +
                              std::string(text.substr(5, 2)) + "T" +
                              std::string(text.substr(17, 8)) + "Z";
  Check(snapd::ParseRfc3339(rfc3339) == date, "an HTTP date agrees with its RFC 3339 form");
}

// A parsed RFC 3339 time formats back to itself (in the 4-digit years the format has).
void CheckRfc3339(std::string_view text) {
  const std::optional<int64_t> time = snapd::ParseRfc3339(text);
  if (!time || *time < -62167219200 || *time >= 253402300800) return;
  Check(snapd::ParseRfc3339(snapd::FormatRfc3339(*time)) == time, "RFC 3339 round trips");
}

// Keys (valid snapshot names, one a line) come back unchanged from the DeleteObjects body.
void CheckDeleteObjectsBody(std::string_view text) {
  std::vector<std::string> keys;
  for (size_t start = 0; start <= text.size();) {
    size_t end = std::min(text.find('\n', start), text.size());
    std::string key(text.substr(start, end - start));
    try {
      snapd::ValidateSnapshotName(key);
      keys.push_back(key);
    } catch (const snapd::Error&) {
    }
    start = end + 1;
  }
  if (keys.empty()) return;
  const std::string xml = snapd::DeleteObjectsXml(keys);
  pugi::xml_document doc;
  // As S3 reads it: white space is part of a key, even a key of only white space.
  Check(static_cast<bool>(
            doc.load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_ws_pcdata)),
        "DeleteObjects is XML");
  std::vector<std::string> parsed;
  for (pugi::xml_node object : doc.child("Delete").children("Object")) {
    parsed.emplace_back(object.child("Key").text().as_string());
  }
  Check(parsed == keys, "DeleteObjects carries every key unchanged");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = snapd::fuzz::AsText(data, size);
  ParseBodies(text);
  CheckHttpDate(text);
  CheckRfc3339(text);
  CheckDeleteObjectsBody(text);
  return 0;
}
