// Derived defaults and the checks of final config values, driven by the key table.
#include "config/config_validation.h"

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

// "PATH: key", "--key", "env AWS_X: key" or "key (default)": where to fix a bad value.
std::string WhereSet(const Config& config, const ConfigKey& key) {
  const std::string source = config.SourceOf(key.name);
  if (source.starts_with("--")) return source;
  if (source == "default") {
    if (key.default_text.starts_with('(')) {
      return std::string(key.name) + " " + std::string(key.default_text);
    }
    return std::string(key.name) + " (default)";
  }
  return source + ": " + std::string(key.name);
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
          if (!key.choices.empty()) {
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
          return "";
        } else if constexpr (std::is_same_v<T, std::chrono::seconds>) {
          if (key.check == ValueCheck::kPositive && value.count() <= 0) {
            return "must be more than 0s, got " + FormatConfigDuration(value);
          }
          return "";
        } else {
          return "";
        }
      },
      key.field);
}

}  // namespace

void ResolveDerivedDefaults(Config& config, const std::string& hostname) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (!key.default_text.starts_with(kDataDirDefaultPrefix)) continue;
    if (config.sources.contains(std::string(key.name))) continue;  // an explicit "" stays ""
    std::get<ConfigField<std::string>>(key.field).In(config) =
        JoinUnder(config.data_dir, key.default_text.substr(kDataDirDefaultPrefix.size()));
  }
  if (!config.sources.contains("node-name")) config.node_name = hostname;
}

void ValidateConfig(const Config& config) {
  for (const ConfigKey& key : ConfigKeys()) {
    const std::string problem = CheckValue(key, config);
    if (!problem.empty()) throw Error::InvalidInput(WhereSet(config, key) + ": " + problem);
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
