// Turns YAML drop-in files, command-line flags and environment into one validated Config.
// BuildConfig is pure; ReadConfigDir and LoadConfig are the thin I/O around it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace snapd {

inline constexpr std::string_view kDefaultConfigDir = "/etc/k3s-snapd.d";

struct ConfigFile {
  std::string path;  // named in errors and recorded as the source of its keys
  std::string text;
};

struct ConfigInputs {
  std::vector<ConfigFile> files;  // already in file-name order; a later file wins
  // e.g. {"--etcd-snapshot-retention=3", "--etcd-s3", "--node-name", "n1"}; flags win over files
  std::vector<std::string> flags;
  std::map<std::string, std::string> env;  // only the variables named in the key table are read
  std::string hostname;                    // the node-name default
};

// Merges files, then flags, then environment fallbacks; resolves data-dir-derived defaults and
// validates. Throws Error::InvalidInput with one line naming the file or flag and the key.
Config BuildConfig(const ConfigInputs& inputs);

// Every *.yaml and *.yml file in `dir` (names starting with '.' skipped), sorted by file name.
// A missing `dir` is an empty list when `missing_is_empty` (the default dir), else an error;
// an unreadable file is an error naming it.
std::vector<ConfigFile> ReadConfigDir(const std::string& dir, bool missing_is_empty = false);

// The config dir chosen on the command line and the other arguments, in order.
struct CommandLine {
  std::string config_dir{kDefaultConfigDir};
  bool config_dir_given = false;
  std::vector<std::string> flags;  // everything but --config-dir, for ConfigInputs::flags
};

// Takes `--config-dir DIR` / `--config-dir=DIR` out of `args` (the program name excluded).
CommandLine SplitCommandLine(const std::vector<std::string>& args);

// The whole load for the daemon: command line, config dir, process environment, host name.
Config LoadConfig(const std::vector<std::string>& args);

// Every key's value for `snapctl status` and debugging. Secrets are "(set)" or "", never the
// value.
nlohmann::json ConfigToJson(const Config& config);

}  // namespace snapd
