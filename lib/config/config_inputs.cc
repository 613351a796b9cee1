// Gathering BuildConfig's inputs from the system: the config dir, the command line, the
// environment variables named in the key table and the host name.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

bool IsConfigFileName(const std::string& name) {
  if (name.starts_with('.')) return false;  // editor and package-manager leftovers
  return name.ends_with(".yaml") || name.ends_with(".yml");
}

std::string ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowSystemError("config file " + path, errno);
  std::string text;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      ThrowSystemError("config file " + path, saved);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
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
    std::string text = ReadWholeFile(path);
    files.push_back({std::move(path), std::move(text)});
  }
  return files;
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
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.env_var.empty()) continue;
    if (const char* value = std::getenv(std::string(key.env_var).c_str())) {
      inputs.env[std::string(key.env_var)] = value;
    }
  }
  inputs.hostname = HostName();
  return BuildConfig(inputs);
}

}  // namespace snapd
