// Config's lookups: where a value came from, and values that several keys decide together.
#include "config/config.h"

namespace snapd {

std::string Config::SourceOf(std::string_view key) const {
  auto it = sources.find(std::string(key));
  if (it == sources.end()) return "default";
  const ConfigSource& source = it->second;
  switch (source.kind) {
    case ConfigSource::Kind::kEnv:
      return "env " + source.name;
    case ConfigSource::Kind::kCredential:
      return "credential " + source.name;
    case ConfigSource::Kind::kSecretFile:
      return "file " + source.name;
    case ConfigSource::Kind::kK3sConfig:
    case ConfigSource::Kind::kFile:
    case ConfigSource::Kind::kFlag:
      break;
  }
  return source.name;
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
