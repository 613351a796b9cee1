// SnapshotQuery: query-string parsing and formatting, and the filter itself.
#include "control/snapshot_query.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "core/error.h"

namespace snapd {
namespace {

std::string QueryDecode(std::string_view raw) {
  std::string decoded;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '+') {
      decoded.push_back(' ');
    } else if (raw[i] != '%') {
      decoded.push_back(raw[i]);
    } else {
      unsigned value = 0;
      const char* digits = raw.data() + i + 1;
      if (i + 2 >= raw.size() || std::from_chars(digits, digits + 2, value, 16).ptr != digits + 2) {
        throw Error::InvalidInput("bad percent-encoding in the query");
      }
      decoded.push_back(static_cast<char>(value));
      i += 2;
    }
  }
  return decoded;
}

std::string QueryEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

SnapshotQuery ParseSnapshotQuery(std::string_view target) {
  SnapshotQuery query;
  size_t mark = target.find('?');
  if (mark == std::string_view::npos) return query;
  std::string_view rest = target.substr(mark + 1);
  std::vector<std::string> seen;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = QueryDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : QueryDecode(pair.substr(eq + 1));
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      throw Error::InvalidInput("query parameter \"" + key + "\" is given twice");
    }
    seen.push_back(key);
    if (key == "storage") {
      if (value != "local" && value != "s3") {
        throw Error::InvalidInput("storage must be local or s3, got \"" + value + "\"");
      }
      query.storage = value;
    } else if (key == "node") {
      query.node = value;
    } else if (key == "name") {
      query.name_prefix = value;
    } else if (key == "limit") {
      size_t limit = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        throw Error::InvalidInput("limit must be a whole number, got \"" + value + "\"");
      }
      query.limit = limit;
    } else {
      throw Error::InvalidInput("unknown query parameter \"" + key +
                                "\" (known: storage, node, name, limit)");
    }
  }
  return query;
}

void ApplySnapshotQuery(const SnapshotQuery& query, std::vector<SnapshotRecord>& records) {
  std::erase_if(records, [&query](const SnapshotRecord& r) {
    return (!query.storage.empty() && r.storage != query.storage) ||
           (!query.node.empty() && r.node != query.node) || !r.name.starts_with(query.name_prefix);
  });
  if (query.limit && records.size() > *query.limit) records.resize(*query.limit);
}

std::string SnapshotQueryString(const SnapshotQuery& query) {
  std::string text;
  auto add = [&text](std::string_view key, std::string_view value) {
    text += (text.empty() ? "?" : "&") + std::string(key) + "=" + QueryEncode(value);
  };
  if (!query.storage.empty()) add("storage", query.storage);
  if (!query.node.empty()) add("node", query.node);
  if (!query.name_prefix.empty()) add("name", query.name_prefix);
  if (query.limit) add("limit", std::to_string(*query.limit));
  return text;
}

}  // namespace snapd
