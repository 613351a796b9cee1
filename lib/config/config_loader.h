// Turns k3s's config file, our YAML drop-in files, command-line flags and environment into one
// validated Config. BuildConfig is pure; ReadConfigDir, ReadK3sConfig and LoadConfig are the
// thin I/O around it.
#pragma once

#include <functional>
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
  // From fstat of the open file. A file holding a secret must have none of the 077 bits and be
  // owned by root or ConfigInputs::daemon_uid.
  unsigned mode = 0600;  // permission bits only
  unsigned owner_uid = 0;
};

struct ConfigInputs {
  // k3s's config as ReadK3sConfig returns it for the k3s-config that K3sConfigPath names (the
  // main file when it exists, then its config.yaml.d drop-ins); empty for "none" or when none
  // of them exists. Only the keys FindK3sConfigKey knows are taken; the rest is ignored.
  std::vector<ConfigFile> k3s_files;
  std::vector<ConfigFile> files;  // our drop-ins, already in file-name order; a later file wins
  // e.g. {"--etcd-snapshot-retention=3", "--etcd-s3", "--node-name", "n1"}; flags win over files
  std::vector<std::string> flags;
  std::map<std::string, std::string> env;  // only the variables named in the key table are read
  std::string hostname;                    // the node-name default
  // systemd credentials ($CREDENTIALS_DIRECTORY), by name: a secret key's value when no flag,
  // file or environment variable supplies it. Names are the secret keys' names.
  std::map<std::string, std::string> credentials;
  // Reads the file an etcd-s3-*-key-file key names (LoadConfig passes ReadSecretFile); throws
  // Error naming the path. BuildConfig's only access to the file system; unset, such keys fail.
  std::function<ConfigFile(const std::string& path)> read_file;
  unsigned daemon_uid = 0;  // besides root, the owner allowed for files holding secrets
};

// Merges our files, then flags, then environment and credential fallbacks, then k3s's config
// for the keys none of those set (so ours always win); resolves data-dir-derived defaults,
// validates, then reads the secrets *-file keys name. Throws Error::InvalidInput with one line
// naming the file or flag and the key, never a secret.
Config BuildConfig(const ConfigInputs& inputs);

// The k3s-config our drop-ins and flags choose (inputs.files and inputs.flags only): an
// absolute path, or "none". LoadConfig reads it before BuildConfig. Throws as BuildConfig does
// for a problem in our files or flags.
std::string K3sConfigPath(const ConfigInputs& inputs);

// Every *.yaml and *.yml file in `dir` (names starting with '.' skipped), sorted by file name,
// with its mode and owner. A missing `dir` is an empty list when `missing_is_empty` (the
// default dir), else an error; an unreadable file or one that is not a regular file is an
// error naming it.
std::vector<ConfigFile> ReadConfigDir(const std::string& dir, bool missing_is_empty = false);

// k3s's config as k3s finds it: `path` when it exists, then every *.yaml and *.yml (any letter
// case, dot files included) directly in `path`.d, sorted by file name, each with its mode and
// owner. A missing file or dir is left out; anything else that cannot be read is an error
// naming it.
std::vector<ConfigFile> ReadK3sConfig(const std::string& path);

// A regular file of at most 64 KiB (a secret, not a data file), with its mode and owner.
// Symbolic links are followed; the mode is the target's.
ConfigFile ReadSecretFile(const std::string& path);

// The credentials in `dir` named like a secret key (etcd-s3-secret-key, token, ...); names
// that are absent are left out. An unreadable credential is an error naming it.
std::map<std::string, std::string> ReadCredentials(const std::string& dir);

// The config dir chosen on the command line and the other arguments, in order.
struct CommandLine {
  std::string config_dir{kDefaultConfigDir};
  bool config_dir_given = false;
  std::vector<std::string> flags;  // everything but --config-dir, for ConfigInputs::flags
};

// Takes `--config-dir DIR` / `--config-dir=DIR` out of `args` (the program name excluded).
CommandLine SplitCommandLine(const std::vector<std::string>& args);

// The whole load for the daemon: command line, config dir, k3s's config, process environment
// (AWS_* and $CREDENTIALS_DIRECTORY), host name, effective uid.
Config LoadConfig(const std::vector<std::string>& args);

// Every key's value for `snapctl status` and debugging. Secrets are "(set)" or "", never the
// value.
nlohmann::json ConfigToJson(const Config& config);

// Where every key's value came from, for `snapctl status -o json`: key -> {"from": "default"},
// {"from": "k3s-config" or "drop-in" or "secret-file", "file": PATH}, {"from": "flag",
// "flag": "--key"}, {"from": "env", "variable": NAME} or {"from": "credential",
// "credential": NAME}. Never a value.
nlohmann::json ConfigSourcesToJson(const Config& config);

}  // namespace snapd
