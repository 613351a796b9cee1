// Gathering BuildConfig's inputs from the system: the config dir, k3s's config, the command
// line, the environment variables named in the key table, systemd credentials, secret files and
// the host name.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "config/config_loader.h"
#include "config/config_schema.h"
#include "core/error.h"

namespace snapd {
namespace {

constexpr std::size_t kMaxConfigFileSize = 16 << 20;  // far beyond any real drop-in
constexpr std::size_t kMaxSecretFileSize = 64 << 10;

bool IsConfigFileName(const std::string& name) {
  if (name.starts_with('.')) return false;  // editor and package-manager leftovers
  return name.ends_with(".yaml") || name.ends_with(".yml");
}

// k3s's test (util.HasSuffixI): any letter case, and dot files are not skipped.
bool IsK3sConfigFileName(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name.ends_with(".yaml") || name.ends_with(".yml");
}

// Reads `path` with the mode and owner of what was opened. `what` starts error messages
// ("config file PATH: ..."). O_NONBLOCK so that a FIFO fails the regular-file check instead
// of blocking the start.
ConfigFile ReadFileWithAccess(const std::string& path, const std::string& what,
                              std::size_t max_size) {
  const std::string name = what + " " + path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) ThrowSystemError(name, errno);
  ConfigFile file{path, "", 0, 0};
  try {
    struct stat st;
    if (::fstat(fd, &st) != 0) ThrowSystemError(name, errno);
    if (!S_ISREG(st.st_mode)) throw Error::InvalidInput(name + ": not a regular file");
    file.mode = st.st_mode & 07777;
    file.owner_uid = st.st_uid;
    char buffer[8192];
    while (true) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowSystemError(name, errno);
      if (n == 0) break;
      file.text.append(buffer, static_cast<std::size_t>(n));
      if (file.text.size() > max_size) {
        throw Error::InvalidInput(name + ": larger than " + std::to_string(max_size / 1024) +
                                  " KiB");
      }
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return file;
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0) ThrowSystemError("gethostname", errno);
  return name;
}

}  // namespace

std::vector<ConfigFile> ReadConfigDir(const std::string& dir, bool missing_is_empty) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (status.type() == fs::file_type::not_found) {
    if (missing_is_empty) return {};
    throw Error::NotFound("config dir " + dir + ": does not exist");
  }
  if (ec) throw Error::Permanent("config dir " + dir + ": " + ec.message());
  if (status.type() != fs::file_type::directory) {
    throw Error::InvalidInput("config dir " + dir + ": not a directory");
  }

  std::vector<std::string> names;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (IsConfigFileName(name)) names.push_back(std::move(name));
  }
  if (ec) throw Error::Permanent("config dir " + dir + ": cannot list: " + ec.message());
  std::sort(names.begin(), names.end());

  std::vector<ConfigFile> files;
  for (const std::string& name : names) {
    std::string path = (fs::path(dir) / name).string();
    files.push_back(ReadFileWithAccess(path, "config file", kMaxConfigFileSize));
  }
  return files;
}

std::vector<ConfigFile> ReadK3sConfig(const std::string& path) {
  namespace fs = std::filesystem;
  constexpr std::string_view kWhat = "k3s config file";
  std::vector<ConfigFile> files;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (status.type() != fs::file_type::not_found) {
    files.push_back(ReadFileWithAccess(path, std::string(kWhat), kMaxConfigFileSize));
  }

  const std::string dir = path + ".d";
  const fs::file_status dir_status = fs::status(dir, ec);
  if (dir_status.type() == fs::file_type::not_found) return files;
  if (ec) throw Error::Permanent("k3s config dir " + dir + ": " + ec.message());
  if (dir_status.type() != fs::file_type::directory) {
    throw Error::InvalidInput("k3s config dir " + dir + ": not a directory");
  }
  std::vector<std::string> names;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    // As k3s, which skips sub-directories (not symbolic links to them).
    if (it->symlink_status(type_ec).type() == fs::file_type::directory) continue;
    std::string name = it->path().filename().string();
    if (IsK3sConfigFileName(name)) names.push_back(std::move(name));
  }
  if (ec) throw Error::Permanent("k3s config dir " + dir + ": cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    files.push_back(ReadFileWithAccess(dir + "/" + name, std::string(kWhat), kMaxConfigFileSize));
  }
  return files;
}

ConfigFile ReadSecretFile(const std::string& path) {
  return ReadFileWithAccess(path, "secret file", kMaxSecretFileSize);
}

std::map<std::string, std::string> ReadCredentials(const std::string& dir) {
  std::map<std::string, std::string> credentials;
  for (const ConfigKey& key : ConfigKeys()) {
    if (!key.secret) continue;
    const std::string path = (std::filesystem::path(dir) / key.name).string();
    try {
      credentials[std::string(key.name)] =
          ReadFileWithAccess(path, "credential", kMaxSecretFileSize).text;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
    }
  }
  return credentials;
}

CommandLine SplitCommandLine(const std::vector<std::string>& args) {
  constexpr std::string_view kFlag = "--config-dir";
  CommandLine out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string dir;
    if (arg.starts_with(std::string(kFlag) + "=")) {
      dir = arg.substr(kFlag.size() + 1);
    } else if (arg == kFlag) {
      if (i + 1 >= args.size() || args[i + 1].starts_with("--")) {
        throw Error::InvalidInput("--config-dir: needs a value (--config-dir=DIR)");
      }
      dir = args[++i];
    } else {
      out.flags.push_back(arg);
      continue;
    }
    if (dir.empty()) throw Error::InvalidInput("--config-dir: must not be empty");
    out.config_dir = dir;
    out.config_dir_given = true;
  }
  return out;
}

Config LoadConfig(const std::vector<std::string>& args) {
  const CommandLine command_line = SplitCommandLine(args);
  ConfigInputs inputs;
  inputs.files = ReadConfigDir(command_line.config_dir, !command_line.config_dir_given);
  inputs.flags = command_line.flags;
  inputs.daemon_uid = ::geteuid();
  if (const std::string k3s_config = K3sConfigPath(inputs); k3s_config != "none") {
    inputs.k3s_files = ReadK3sConfig(k3s_config);
  }
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.env_var.empty()) continue;
    if (const char* value = std::getenv(std::string(key.env_var).c_str())) {
      inputs.env[std::string(key.env_var)] = value;
    }
  }
  if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
    inputs.credentials = ReadCredentials(dir);
  }
  inputs.read_file = ReadSecretFile;
  inputs.hostname = HostName();
  return BuildConfig(inputs);
}

}  // namespace snapd
