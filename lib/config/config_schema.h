// The table of configuration keys: it drives parsing of files and flags, environment
// fallbacks, data-dir-derived defaults, validation, redaction and the reference docs.
// Adding a key is one row in config_schema.cc plus its field in config.h.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "config/config.h"

namespace snapd {

enum class ValueType { kString, kBool, kInt, kDuration };

std::string_view ValueTypeName(ValueType type);  // "string", "bool", "int", "duration"

// One field of Config, either a direct member or a member of Config::s3.
template <typename T>
struct ConfigField {
  T Config::*top = nullptr;
  T S3Config::*s3 = nullptr;

  T& In(Config& config) const { return top ? config.*top : config.s3.*s3; }
  const T& In(const Config& config) const { return top ? config.*top : config.s3.*s3; }
};

using ConfigFieldRef = std::variant<ConfigField<std::string>, ConfigField<bool>, ConfigField<int>,
                                    ConfigField<std::chrono::seconds>>;

template <typename T>
constexpr ConfigFieldRef Top(T Config::*member) {
  return ConfigField<T>{member, nullptr};
}
template <typename T>
constexpr ConfigFieldRef S3(T S3Config::*member) {
  return ConfigField<T>{nullptr, member};
}

// A check applied to the final value of a key (after files, flags, environment and defaults).
enum class ValueCheck {
  kNone,
  kAbsolutePath,          // starts with '/'
  kHttpUrl,               // http:// or https:// with a host
  kNamePrefix,            // non-empty, only [A-Za-z0-9._-], no ".."
  kNodeName,              // non-empty, no '/'
  kNonNegative,           // int >= 0, or a duration >= 0
  kPositiveInt,           // int 1..64
  kPositive,              // duration > 0
  kOptionalAbsolutePath,  // "" or starts with '/'
  kHostPort,              // "" or host:port, host an IP ([v6] in brackets) or a DNS name
  kGroup,                 // "" or a group name or number
  kAgeRecipients,         // "" or age1... recipients separated by spaces or commas
  kAbsolutePathOrNone,    // starts with '/', or is "none"
};

struct ConfigKey {
  std::string_view name;  // the YAML key; the flag is "--" + name
  ConfigFieldRef field;
  // Default as users write it. "${data-dir}/..." defaults are derived from data-dir when the
  // key is not set at all; an explicit "" stays "" (e.g. no client certificate).
  std::string_view default_text;
  std::string_view k3s_name;  // k3s's key of the same meaning, "" if k3s has none
  std::string_view env_var;   // fills the value when no file or flag sets it, "" if none
  bool secret;                // never shown, logged or put in an error message
  std::string_view choices;   // "a|b|c" when only these values are valid, else ""
  ValueCheck check;
  std::string_view description;
};

// Every key, in the order of the reference docs.
std::span<const ConfigKey> ConfigKeys();

// The key named `name`, or nullptr.
const ConfigKey* FindConfigKey(std::string_view name);

// The key that k3s's config file sets under `k3s_name` (or its short alias: "d" for data-dir,
// "t" for token) and that the daemon takes from it (see k3s-config), or nullptr: every key with
// a k3s equivalent but etcd-disable-snapshots, which tells k3s itself not to schedule.
const ConfigKey* FindK3sConfigKey(std::string_view k3s_name);

// The known key closest to `name` within edit distance 2, or "" if none is that close.
std::string_view ClosestConfigKey(std::string_view name);

ValueType TypeOf(const ConfigKey& key);

// The key's current value in `config`, written the way a user would write it in a file.
std::string FormatConfigValue(const ConfigKey& key, const Config& config);

inline constexpr std::string_view kDataDirDefaultPrefix = "${data-dir}/";

}  // namespace snapd
