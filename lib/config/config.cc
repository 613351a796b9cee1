// Config's lookups: where a value came from, and values that several keys decide together.
#include "config/config.h"

namespace snapd {

std::string Config::SourceOf(std::string_view key) const {
  auto it = sources.find(std::string(key));
  return it == sources.end() ? "default" : it->second;
}

std::string Config::SnapshotCompression() const {
  if (!snapshot_compression.empty()) return snapshot_compression;
  return snapshot_compress ? "zip" : "none";
}

std::vector<std::string> Config::EncryptionRecipients() const {
  std::vector<std::string> recipients;
  std::string current;
  for (char c : encryption_recipients + " ") {
    if (c == ' ' || c == ',' || c == '\t' || c == '\n') {
      if (!current.empty()) recipients.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  return recipients;
}

}  // namespace snapd
