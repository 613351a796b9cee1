// The merge of config files, flags, environment, credentials and k3s's config into a Config
// (BuildConfig): pure except for secret files, read through ConfigInputs::read_file.
#include "config/config_loader.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/config_schema.h"
#include "config/config_validation.h"
#include "config/config_value.h"
#include "config/k3s_config.h"
#include "core/error.h"

namespace snapd {
namespace {

std::string_view ExpectedText(ValueType type) {
  switch (type) {
    case ValueType::kString:
      return "a string";
    case ValueType::kBool:
      return "true or false";
    case ValueType::kInt:
      return "an integer";
    case ValueType::kDuration:
      return "a duration such as 30s, 5m or 1h30m";
  }
  return "a value";
}

std::string_view NodeKindText(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "no value";
    default:
      return "something else";
  }
}

// The keys whose value a file can hold instead, and the key naming that file. Setting both
// is an error: which one is meant cannot be guessed.
struct SecretFileKey {
  std::string_view key;
  std::string_view file_key;
};
constexpr SecretFileKey kSecretFileKeys[] = {
    {"etcd-s3-access-key", "etcd-s3-access-key-file"},
    {"etcd-s3-secret-key", "etcd-s3-secret-key-file"},
};

std::string& StringField(Config& config, std::string_view name) {
  return std::get<ConfigField<std::string>>(FindConfigKey(name)->field).In(config);
}
const std::string& StringField(const Config& config, std::string_view name) {
  return std::get<ConfigField<std::string>>(FindConfigKey(name)->field).In(config);
}

// Whether `name` was set by a source of ours: anything but k3s's config.
bool SetByUs(const Config& config, std::string_view name) {
  auto it = config.sources.find(std::string(name));
  return it != config.sources.end() && it->second.kind != ConfigSource::Kind::kK3sConfig;
}

// Whether one of our sources (not k3s's config) already supplies `name`, directly or through
// the key naming its file, so that the weaker sources (environment, then credentials, then
// k3s's config) leave it alone.
bool SuppliedByUs(const Config& config, std::string_view name) {
  if (SetByUs(config, name)) return true;
  for (const SecretFileKey& pair : kSecretFileKeys) {
    if (pair.key == name && !StringField(config, pair.file_key).empty()) return true;
  }
  // An explicit token-file says where the token is; a weaker token must not override it.
  return name == "token" && !config.token_file.empty() && SetByUs(config, "token-file");
}

std::string ModeText(unsigned mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

// Why `file` must not hold a secret, or "": it must be private to root or the daemon.
std::string AccessProblem(const ConfigFile& file, unsigned daemon_uid) {
  if ((file.mode & 077) != 0) {
    return "has mode " + ModeText(file.mode) + " (open to group or others); run chmod 600 " +
           file.path;
  }
  if (file.owner_uid != 0 && file.owner_uid != daemon_uid) {
    const std::string owner = "is owned by uid " + std::to_string(file.owner_uid);
    if (daemon_uid == 0) return owner + ", not root; run chown root " + file.path;
    const std::string daemon = std::to_string(daemon_uid);
    return owner + ", not by uid " + daemon + " (the daemon) or root; run chown " + daemon + " " +
           file.path;
  }
  return "";
}

// A secret as read from a file: trailing white space (the newline editors and `echo` add) is
// cut; anything left that spans lines or is empty is refused. `where` names the source.
std::string SecretFromFileText(const std::string& text, const std::string& where) {
  const std::size_t end = text.find_last_not_of(" \t\r\n\v\f");
  const std::string secret = end == std::string::npos ? "" : text.substr(0, end + 1);
  if (secret.empty()) throw Error::InvalidInput(where + " is empty");
  if (secret.find_first_of("\r\n") != std::string::npos) {
    throw Error::InvalidInput(where + " holds more than one line; expected only the secret");
  }
  return secret;
}

// Parses `text` into the key's field. `where` names the file and key, or the flag.
void SetFromText(Config& config, const ConfigKey& key, const std::string& text,
                 const std::string& where) {
  try {
    std::visit(
        [&](const auto& field) {
          auto& value = field.In(config);
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, bool>) {
            value = ParseConfigBool(text);
          } else if constexpr (std::is_same_v<T, int>) {
            value = ParseConfigInt(text);
          } else if constexpr (std::is_same_v<T, std::chrono::seconds>) {
            value = ParseConfigDuration(text);
          } else {
            value = text;
          }
        },
        key.field);
  } catch (const Error& e) {
    if (key.secret) {
      throw Error::InvalidInput(where + ": expected " + std::string(ExpectedText(TypeOf(key))));
    }
    throw e.WithContext(where);
  }
}

std::string UnknownKeyMessage(const std::string& path, const std::string& name) {
  std::string message = path + ": unknown key " + QuoteForMessage(name);
  std::string_view closest = ClosestConfigKey(name);
  if (!closest.empty()) message += " (did you mean \"" + std::string(closest) + "\"?)";
  return message;
}

// The key a YAML file names. "key+" appends to a list in k3s; no key here is a list yet.
const ConfigKey& FileKey(const std::string& path, const std::string& name) {
  if (name.ends_with('+')) {
    const std::string base = name.substr(0, name.size() - 1);
    const ConfigKey* key = FindConfigKey(base);
    if (key == nullptr) throw Error::InvalidInput(UnknownKeyMessage(path, name));
    throw Error::InvalidInput(path + ": " + name + ": \"+\" appends to a list, but " + base +
                              " is a " + std::string(ValueTypeName(TypeOf(*key))) + "; write \"" +
                              base + ":\"");
  }
  const ConfigKey* key = FindConfigKey(name);
  if (key == nullptr) throw Error::InvalidInput(UnknownKeyMessage(path, name));
  return *key;
}

// Takes parser events and keeps nothing: for counting documents.
class IgnoreYamlEvents final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp 0.7's LoadAll never returns on some malformed streams (a lone ",": yaml-cpp #1040,
// found by fuzzing), adding empty documents until memory runs out. Every document after the
// first starts with a 3-byte marker, so a stream with more than that allows is refused first.
void CheckYamlDocumentCount(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  IgnoreYamlEvents ignore;
  const size_t most = text.size() / 3 + 2;
  for (size_t count = 0; parser.HandleNextDocument(ignore);) {
    if (++count > most) throw YAML::ParserException(YAML::Mark::null_mark(), "malformed stream");
  }
}

std::vector<YAML::Node> ParseYamlDocuments(const ConfigFile& file) {
  try {
    CheckYamlDocumentCount(file.text);
    return YAML::LoadAll(file.text);
  } catch (const YAML::Exception& e) {
    std::string where = file.path;
    if (!e.mark.is_null()) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    throw Error::InvalidInput(where + ": invalid YAML: " + e.msg);
  }
}

// The one YAML mapping `file` holds, or a null node when it is empty or only comments.
YAML::Node ParseMapping(const ConfigFile& file) {
  const std::vector<YAML::Node> documents = ParseYamlDocuments(file);
  if (documents.size() > 1) {
    throw Error::InvalidInput(file.path + ": holds " + std::to_string(documents.size()) +
                              " YAML documents; expected one");
  }
  if (documents.empty() || documents.front().IsNull()) return YAML::Node();
  const YAML::Node& root = documents.front();
  if (!root.IsMap()) {
    throw Error::InvalidInput(file.path + ": expected \"key: value\" lines (a mapping), got " +
                              std::string(NodeKindText(root)));
  }
  return root;
}

void ApplyFile(Config& config, const ConfigFile& file, unsigned daemon_uid) {
  const YAML::Node root = ParseMapping(file);
  if (root.IsNull()) return;
  std::set<std::string> seen;
  std::string secret_key;  // the first secret this file holds, for the access check
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) {
      throw Error::InvalidInput(file.path + ": expected a key name, got " +
                                std::string(NodeKindText(entry.first)));
    }
    const std::string name = entry.first.Scalar();
    if (!seen.insert(name).second) {
      throw Error::InvalidInput(file.path + ": key " + QuoteForMessage(name) + " is set twice");
    }
    const ConfigKey& key = FileKey(file.path, name);
    const std::string where = file.path + ": " + name;
    const YAML::Node& value = entry.second;
    if (value.IsSequence() && key.check == ValueCheck::kAgeRecipients) {
      std::string joined;
      for (const auto& item : value) {
        if (!item.IsScalar()) {
          throw Error::InvalidInput(where + ": expected a list of strings, got a list holding " +
                                    std::string(NodeKindText(item)));
        }
        joined += (joined.empty() ? "" : " ") + item.Scalar();
      }
      SetFromText(config, key, joined, where);
      config.sources[name] = {ConfigSource::Kind::kFile, file.path};
      continue;
    }
    if (!value.IsScalar()) {
      std::string message = where + ": expected " + std::string(ExpectedText(TypeOf(key))) +
                            ", got " + std::string(NodeKindText(value));
      if (value.IsNull() && TypeOf(key) == ValueType::kString) {
        message += " (write \"\" for an empty string)";
      }
      throw Error::InvalidInput(message);
    }
    SetFromText(config, key, value.Scalar(), where);
    config.sources[name] = {ConfigSource::Kind::kFile, file.path};
    if (key.secret && secret_key.empty() && !value.Scalar().empty()) secret_key = name;
  }
  if (secret_key.empty()) return;
  if (std::string problem = AccessProblem(file, daemon_uid); !problem.empty()) {
    throw Error::InvalidInput(file.path + ": holds " + secret_key + " but " + problem);
  }
}

void ApplyFlags(Config& config, const std::vector<std::string>& flags) {
  for (std::size_t i = 0; i < flags.size(); ++i) {
    const std::string& arg = flags[i];
    const std::size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);  // never shows a value: it may be a secret
    if (!arg.starts_with("--") || arg.size() == 2) {
      throw Error::InvalidInput("unexpected argument " + QuoteForMessage(name) +
                                "; settings are written --KEY=VALUE");
    }
    const std::string flag = name;
    const ConfigKey* key = FindConfigKey(std::string_view(flag).substr(2));
    if (key == nullptr) {
      // As typed, unless that would break the one-line message (found by fuzzing).
      const bool plain = std::none_of(flag.begin(), flag.end(),
                                      [](unsigned char c) { return c < 0x20 || c == 0x7f; });
      std::string message = (plain ? flag : QuoteForMessage(flag)) + ": unknown flag";
      std::string_view closest = ClosestConfigKey(std::string_view(flag).substr(2));
      if (!closest.empty()) message += " (did you mean --" + std::string(closest) + "?)";
      throw Error::InvalidInput(message);
    }
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (TypeOf(*key) == ValueType::kBool) {
      value = "true";  // like Go's flag package, a bool flag never takes the next argument
    } else if (i + 1 < flags.size() && !flags[i + 1].starts_with("--")) {
      value = flags[++i];
    } else {
      throw Error::InvalidInput(flag + ": needs a value (" + flag + "=VALUE)");
    }
    SetFromText(config, *key, value, flag);
    config.sources[std::string(key->name)] = {ConfigSource::Kind::kFlag, flag};
  }
}

// k3s's flags take AWS_* as their default, so the environment loses to files and flags (but
// not to k3s's config, which comes after it).
void ApplyEnvironment(Config& config, const std::map<std::string, std::string>& env) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.env_var.empty() || SuppliedByUs(config, key.name)) continue;
    auto it = env.find(std::string(key.env_var));
    if (it == env.end() || it->second.empty()) continue;
    SetFromText(config, key, it->second,
                "env " + std::string(key.env_var) + ": " + std::string(key.name));
    config.sources[std::string(key.name)] = {ConfigSource::Kind::kEnv, std::string(key.env_var)};
  }
}

void CheckSecretFileKeys(const Config& config) {
  for (const SecretFileKey& pair : kSecretFileKeys) {
    if (StringField(config, pair.key).empty() || StringField(config, pair.file_key).empty()) {
      continue;
    }
    throw Error::InvalidInput(WhereSet(config, pair.key) + " and " +
                              WhereSet(config, pair.file_key) + ": both are set; keep one");
  }
}

// systemd credentials are the weakest source: LoadCredential= is a default the unit ships,
// which drop-ins, flags and Environment= may override. They are private to the service, so
// their mode is not checked.
void ApplyCredentials(Config& config, const std::map<std::string, std::string>& credentials) {
  for (const auto& [name, text] : credentials) {
    const ConfigKey* key = FindConfigKey(name);
    if (key == nullptr || !key->secret || SuppliedByUs(config, name)) continue;
    StringField(config, name) = SecretFromFileText(text, "credential " + name);
    config.sources[name] = {ConfigSource::Kind::kCredential, name};
  }
}

// Last, once ValidateConfig has checked the paths are absolute. The environment, credentials
// and k3s's config have left these keys alone (SuppliedByUs).
void ApplySecretFiles(Config& config, const ConfigInputs& inputs) {
  for (const SecretFileKey& pair : kSecretFileKeys) {
    const std::string path = StringField(config, pair.file_key);
    if (path.empty()) continue;
    const std::string where = WhereSet(config, pair.file_key);
    if (!inputs.read_file) throw Error::Permanent(where + ": no file reader given");
    ConfigFile file;
    try {
      file = inputs.read_file(path);
    } catch (const Error& e) {
      throw Error::InvalidInput(where + ": " + e.what());
    }
    if (std::string problem = AccessProblem(file, inputs.daemon_uid); !problem.empty()) {
      throw Error::InvalidInput(where + ": " + path + " " + problem);
    }
    StringField(config, pair.key) = SecretFromFileText(file.text, where + ": " + path);
    config.sources[std::string(pair.key)] = {ConfigSource::Kind::kSecretFile, path};
  }
}

// k3s's config is read whatever its mode, by k3s; a file of it that holds a secret the daemon
// takes must still be private, as our drop-ins must.
void CheckK3sFileAccess(const ConfigFile& file, const YAML::Node& root, unsigned daemon_uid) {
  if (!root.IsMap()) return;
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) continue;
    std::string name = entry.first.Scalar();
    if (name.ends_with('+')) name.pop_back();
    const ConfigKey* key = FindK3sConfigKey(name);
    if (key == nullptr || !key->secret) continue;
    const YAML::Node& value = entry.second;
    const bool holds = value.IsScalar() ? !value.Scalar().empty() : value.size() > 0;
    if (!holds) continue;
    if (std::string problem = AccessProblem(file, daemon_uid); !problem.empty()) {
      throw Error::InvalidInput(file.path + ": holds " + std::string(key->name) + " but " +
                                problem);
    }
    return;
  }
}

void ResetToDefault(Config& config, const ConfigKey& key) {
  static const Config kDefaults;
  std::visit([&](const auto& field) { field.In(config) = field.In(kDefaults); }, key.field);
  config.sources.erase(std::string(key.name));
}

// The lowest layer: the keys k3s's config sets (merged by k3s's rules) that the daemon takes
// and none of our sources supplies.
void ApplyK3sConfig(Config& config, const ConfigInputs& inputs) {
  ValidateConfigKey(config, "k3s-config");
  const std::string& path = config.k3s_config;
  for (const ConfigFile& file : inputs.k3s_files) {
    if (path == "none" || (file.path != path && !file.path.starts_with(path + ".d/"))) {
      throw Error::Permanent(file.path + ": given as k3s's config, but k3s-config is " + path);
    }
  }
  if (path == "none") return;
  if (inputs.k3s_files.empty()) {
    if (!SetByUs(config, "k3s-config")) return;  // k3s's default file: fine without it
    throw Error::InvalidInput(WhereSet(config, "k3s-config") + ": " + path +
                              " does not exist, nor does any *.yaml in " + path + ".d/");
  }
  std::vector<K3sConfigDocument> documents;
  for (const ConfigFile& file : inputs.k3s_files) {
    documents.push_back({file.path, ParseMapping(file)});
    CheckK3sFileAccess(file, documents.back().root, inputs.daemon_uid);
  }
  for (const K3sConfigFlag& flag : MergeK3sConfig(documents)) {
    const ConfigKey* key = FindK3sConfigKey(flag.key);
    if (key == nullptr || SuppliedByUs(config, key->name)) continue;
    const std::string where = flag.file + ": " + flag.key;
    if (!flag.value.IsNull() && !flag.value.IsScalar()) {
      throw Error::InvalidInput(where + ": expected " + std::string(ExpectedText(TypeOf(*key))) +
                                ", got " + std::string(NodeKindText(flag.value)));
    }
    const std::string text = flag.value.IsNull() ? "" : flag.value.Scalar();
    // k3s takes an empty string (or no value) as "use the default" for these keys.
    if (text.empty() && TypeOf(*key) == ValueType::kString) {
      ResetToDefault(config, *key);
      continue;
    }
    SetFromText(config, *key, text, where);
    config.sources[std::string(key->name)] = {ConfigSource::Kind::kK3sConfig, flag.file};
  }
}

void ApplyOurFilesAndFlags(Config& config, const ConfigInputs& inputs) {
  for (const ConfigFile& file : inputs.files) ApplyFile(config, file, inputs.daemon_uid);
  ApplyFlags(config, inputs.flags);
}

nlohmann::json SourceToJson(const ConfigSource& source) {
  switch (source.kind) {
    case ConfigSource::Kind::kK3sConfig:
      return {{"from", "k3s-config"}, {"file", source.name}};
    case ConfigSource::Kind::kFile:
      return {{"from", "drop-in"}, {"file", source.name}};
    case ConfigSource::Kind::kFlag:
      return {{"from", "flag"}, {"flag", source.name}};
    case ConfigSource::Kind::kEnv:
      return {{"from", "env"}, {"variable", source.name}};
    case ConfigSource::Kind::kCredential:
      return {{"from", "credential"}, {"credential", source.name}};
    case ConfigSource::Kind::kSecretFile:
      return {{"from", "secret-file"}, {"file", source.name}};
  }
  return {{"from", "unknown"}};
}

}  // namespace

std::string K3sConfigPath(const ConfigInputs& inputs) {
  Config config;
  ApplyOurFilesAndFlags(config, inputs);
  ValidateConfigKey(config, "k3s-config");
  return config.k3s_config;
}

Config BuildConfig(const ConfigInputs& inputs) {
  Config config;
  ApplyOurFilesAndFlags(config, inputs);
  CheckSecretFileKeys(config);
  ApplyEnvironment(config, inputs.env);
  ApplyCredentials(config, inputs.credentials);
  ApplyK3sConfig(config, inputs);
  ResolveDerivedDefaults(config, inputs.hostname);
  ValidateConfig(config);
  ApplySecretFiles(config, inputs);
  return config;
}

nlohmann::json ConfigToJson(const Config& config) {
  nlohmann::json out = nlohmann::json::object();
  for (const ConfigKey& key : ConfigKeys()) {
    const std::string name(key.name);
    if (key.secret) {
      out[name] = FormatConfigValue(key, config).empty() ? "" : "(set)";
      continue;
    }
    std::visit(
        [&](const auto& field) {
          const auto& value = field.In(config);
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::chrono::seconds>) {
            out[name] = FormatConfigDuration(value);
          } else {
            out[name] = value;
          }
        },
        key.field);
  }
  return out;
}

nlohmann::json ConfigSourcesToJson(const Config& config) {
  nlohmann::json out = nlohmann::json::object();
  for (const ConfigKey& key : ConfigKeys()) {
    auto it = config.sources.find(std::string(key.name));
    out[std::string(key.name)] =
        it == config.sources.end() ? nlohmann::json{{"from", "default"}} : SourceToJson(it->second);
  }
  return out;
}

}  // namespace snapd
