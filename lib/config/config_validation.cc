// Derived defaults and the checks of final config values, driven by the key table.
#include "config/config_validation.h"

#include <arpa/inet.h>

#include <string_view>

#include "config/config_schema.h"
#include "config/config_value.h"
#include "core/error.h"

namespace snapd {
namespace {

std::string JoinUnder(std::string dir, std::string_view relative) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir != "/") dir += '/';
  return dir + std::string(relative);
}

bool HasControlCharacter(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string CheckHttpUrl(std::string_view url) {
  const std::string problem =
      "must be an http:// or https:// URL with a host, got " + QuoteForMessage(url);
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return problem;
  }
  for (char c : url) {
    if (c == ' ' || c == '\t' || HasControlCharacter(std::string_view(&c, 1))) return problem;
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "must not carry user information, got " + QuoteForMessage(url);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return problem;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return problem;
      port = after.substr(1);
      if (port.empty()) return problem;
    }
  } else if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return problem;
  }
  if (host.empty()) return problem;
  if (!port.empty()) {
    int number = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || number > 65535) return problem;
      number = number * 10 + (c - '0');
    }
    if (number < 1 || number > 65535) return "port must be 1 to 65535, got " + QuoteForMessage(url);
  }
  return "";
}

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  while (true) {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      const bool allowed =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!allowed) return false;
    }
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

// "" (off) or HOST:PORT; HOST an IPv4 address, an IPv6 address in brackets or a DNS name.
std::string CheckHostPort(std::string_view value) {
  if (value.empty()) return "";
  const std::string problem =
      "must be host:port such as 127.0.0.1:9469 or [::1]:9469, got " + QuoteForMessage(value);
  std::string_view host;
  std::string_view port;
  if (value.starts_with('[')) {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos || value.substr(close + 1, 1) != ":") return problem;
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
    in6_addr address;
    if (!::inet_pton(AF_INET6, std::string(host).c_str(), &address)) {
      return "host must be an IPv6 address inside [], got " + QuoteForMessage(value);
    }
  } else {
    const std::size_t colon = value.rfind(':');
    if (colon == std::string_view::npos) return problem;
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "an IPv6 address goes inside [] (as in [::1]:9469), got " + QuoteForMessage(value);
    }
    if (host.empty()) {
      return "must name a host (0.0.0.0 or [::] for every address), got " + QuoteForMessage(value);
    }
    const bool looks_numeric = host.find_first_not_of("0123456789.") == std::string_view::npos;
    in_addr address;
    if (looks_numeric ? !::inet_pton(AF_INET, std::string(host).c_str(), &address)
                      : !IsDnsName(host)) {
      return "host must be an IP address or a host name, got " + QuoteForMessage(value);
    }
  }
  if (!IsDigits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
      std::stoi(std::string(port)) > 65535) {
    return "port must be 1 to 65535, got " + QuoteForMessage(value);
  }
  return "";
}

// "" or a group as getgrnam/getgrgid take it; whether it exists is the daemon's to find out.
std::string CheckGroup(std::string_view value) {
  if (value.empty()) return "";
  if (IsDigits(value)) {
    // (gid_t)-1 means "no change" to chown, so it is no group.
    if (value.size() > 10 || std::stoull(std::string(value)) >= 4294967295ULL) {
      return "group number out of range, got " + QuoteForMessage(value);
    }
    return "";
  }
  bool valid = value.size() <= 32;
  for (std::size_t i = 0; valid && i < value.size(); ++i) {
    const char c = value[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool later = (c >= '0' && c <= '9') || c == '-' || c == '.';
    const bool final_dollar = c == '$' && i + 1 == value.size() && i > 0;
    valid = letter || (i > 0 && later) || final_dollar;
  }
  if (!valid) return "must be a group name or number, got " + QuoteForMessage(value);
  return "";
}

// Only the text form is checked here (bech32 characters, length); the key itself is decoded
// when the daemon builds its encryptor.
std::string CheckAgeRecipients(const Config& config) {
  for (const std::string& recipient : config.EncryptionRecipients()) {
    bool valid = recipient.starts_with("age1") && recipient.size() == 62;
    for (char c : recipient) {
      valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    }
    if (!valid) {
      return "expected age X25519 recipients (age1 and 58 more lower-case characters, as "
             "age-keygen -y prints), got " +
             QuoteForMessage(recipient);
    }
  }
  return "";
}

std::string CheckNamePrefix(std::string_view name) {
  if (name.empty()) return "must not be empty";
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed) {
      return "may contain only letters, digits, '.', '_' and '-', got " + QuoteForMessage(name);
    }
  }
  if (name.find("..") != std::string_view::npos) {
    return "must not contain \"..\", got " + QuoteForMessage(name);
  }
  return "";
}

std::string CheckNodeName(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.find('/') != std::string_view::npos) {
    return "must not contain '/', got " + QuoteForMessage(name);
  }
  // The node name goes into S3 metadata headers, where a line break would split the header.
  if (HasControlCharacter(name)) {
    return "must not contain control characters, got " + QuoteForMessage(name);
  }
  return "";
}

std::string CheckChoices(std::string_view choices, const std::string& value) {
  std::string listed;
  std::string_view rest = choices;
  while (true) {
    const std::size_t bar = rest.find('|');
    const std::string_view choice = rest.substr(0, bar);
    if (choice == value) return "";
    listed += (listed.empty() ? "" : ", ") + std::string(choice);
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  return "must be one of " + listed + "; got " + QuoteForMessage(value);
}

// The problem with `key`'s final value, or "" when it is acceptable.
std::string CheckValue(const ConfigKey& key, const Config& config) {
  return std::visit(
      [&](const auto& field) -> std::string {
        const auto& value = field.In(config);
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::string>) {
          // A key whose default is "" (decided by another key) may stay "".
          const bool unset_allowed = value.empty() && key.default_text.empty();
          if (!key.choices.empty() && !unset_allowed) {
            if (std::string problem = CheckChoices(key.choices, value); !problem.empty()) {
              return problem;
            }
          }
          switch (key.check) {
            case ValueCheck::kAbsolutePath:
              if (!value.starts_with('/')) {
                return "must be an absolute path, got " + QuoteForMessage(value);
              }
              return "";
            case ValueCheck::kAbsolutePathOrNone:
              if (!value.starts_with('/') && value != "none") {
                return "must be an absolute path or none, got " + QuoteForMessage(value);
              }
              return "";
            case ValueCheck::kOptionalAbsolutePath:
              if (!value.empty() && !value.starts_with('/')) {
                return "must be an absolute path, got " + QuoteForMessage(value);
              }
              return "";
            case ValueCheck::kHostPort:
              return CheckHostPort(value);
            case ValueCheck::kGroup:
              return CheckGroup(value);
            case ValueCheck::kAgeRecipients:
              return CheckAgeRecipients(config);
            case ValueCheck::kHttpUrl:
              return CheckHttpUrl(value);
            case ValueCheck::kNamePrefix:
              return CheckNamePrefix(value);
            case ValueCheck::kNodeName:
              return CheckNodeName(value);
            default:
              return "";
          }
        } else if constexpr (std::is_same_v<T, int>) {
          if (key.check == ValueCheck::kNonNegative && value < 0) {
            return "must not be negative, got " + std::to_string(value);
          }
          if (key.check == ValueCheck::kPositiveInt && (value < 1 || value > 64)) {
            return "must be 1 to 64, got " + std::to_string(value);
          }
          return "";
        } else if constexpr (std::is_same_v<T, std::chrono::seconds>) {
          if (key.check == ValueCheck::kPositive && value.count() <= 0) {
            return "must be more than 0s, got " + FormatConfigDuration(value);
          }
          if (key.check == ValueCheck::kNonNegative && value.count() < 0) {
            return "must not be negative, got " + FormatConfigDuration(value);
          }
          return "";
        } else {
          return "";
        }
      },
      key.field);
}

void ThrowIfInvalid(const ConfigKey& key, const Config& config) {
  const std::string problem = CheckValue(key, config);
  if (!problem.empty()) throw Error::InvalidInput(WhereSet(config, key.name) + ": " + problem);
}

}  // namespace

std::string WhereSet(const Config& config, std::string_view name) {
  const std::string source = config.SourceOf(name);
  if (source.starts_with("--")) return source;
  if (source == "default") {
    const ConfigKey* key = FindConfigKey(name);
    if (key != nullptr && key->default_text.starts_with('(')) {
      return std::string(name) + " " + std::string(key->default_text);
    }
    return std::string(name) + " (default)";
  }
  return source + ": " + std::string(name);
}

void ResolveDerivedDefaults(Config& config, const std::string& hostname) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (!key.default_text.starts_with(kDataDirDefaultPrefix)) continue;
    if (config.sources.contains(std::string(key.name))) continue;  // an explicit "" stays ""
    std::get<ConfigField<std::string>>(key.field).In(config) =
        JoinUnder(config.data_dir, key.default_text.substr(kDataDirDefaultPrefix.size()));
  }
  if (!config.sources.contains("node-name")) config.node_name = hostname;
}

void ValidateConfigKey(const Config& config, std::string_view name) {
  const ConfigKey* key = FindConfigKey(name);
  if (key == nullptr) throw Error::Permanent("no config key " + std::string(name));
  ThrowIfInvalid(*key, config);
}

void ValidateConfig(const Config& config) {
  for (const ConfigKey& key : ConfigKeys()) ThrowIfInvalid(key, config);
  if (config.snapshot_compress && config.snapshot_compression == "none") {
    throw Error::InvalidInput(WhereSet(config, "etcd-snapshot-compress") + " is true but " +
                              WhereSet(config, "etcd-snapshot-compression") + " is none; keep one");
  }
  if (config.s3.enabled) {
    const std::string source = config.SourceOf("etcd-s3");
    if (config.s3.bucket.empty()) {
      throw Error::InvalidInput(source + ": etcd-s3 is true but etcd-s3-bucket is not set");
    }
    if (config.s3.endpoint.empty()) {
      throw Error::InvalidInput(source + ": etcd-s3 is true but etcd-s3-endpoint is empty");
    }
  }
}

}  // namespace snapd
