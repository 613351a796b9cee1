// Fuzzes the config loader on one YAML drop-in (the input up to its first NUL) and command-line
// flags (NUL-separated after it): errors are one-line InvalidInput that never show a secret,
// and what loads can be reported as status JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config_loader.h"
#include "core/error.h"
#include "fuzz_input.h"

using snapd::fuzz::Check;

namespace {

// Secrets that reach the loader from outside the input; they must never show.
constexpr std::string_view kFileSecret = "fuzz-secret-from-a-file-7f3a9c";
constexpr std::string_view kCredentialSecret = "fuzz-secret-from-a-credential-2b8e1d";
constexpr std::string_view kEnvironmentSecret = "fuzz-secret-from-the-environment-5c0d4e";

bool ShowsSecret(std::string_view text) {
  return text.find(kFileSecret) != std::string_view::npos ||
         text.find(kCredentialSecret) != std::string_view::npos ||
         text.find(kEnvironmentSecret) != std::string_view::npos;
}

snapd::ConfigInputs InputsOf(std::string_view text) {
  snapd::ConfigInputs inputs;
  const size_t nul = text.find('\0');
  inputs.files.push_back(
      {"/etc/k3s-snapd.d/10-fuzz.yaml", std::string(text.substr(0, nul)), 0600, 0});
  if (nul != std::string_view::npos) {
    std::string_view rest = text.substr(nul + 1);
    while (!rest.empty()) {
      const size_t end = std::min(rest.find('\0'), rest.size());
      inputs.flags.emplace_back(rest.substr(0, end));
      rest.remove_prefix(std::min(end + 1, rest.size()));
    }
  }
  inputs.hostname = "node-a";
  inputs.env = {{"AWS_SECRET_ACCESS_KEY", std::string(kEnvironmentSecret)},
                {"AWS_ACCESS_KEY_ID", "AKIAFUZZ"}};
  inputs.credentials = {{"token", std::string(kCredentialSecret)}};
  inputs.read_file = [](const std::string& path) {
    if (path.find("missing") != std::string::npos) {
      throw snapd::Error::NotFound("secret file " + path + ": No such file or directory");
    }
    return snapd::ConfigFile{path, std::string(kFileSecret) + "\n", 0600, 0};
  };
  return inputs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const snapd::ConfigInputs inputs = InputsOf(snapd::fuzz::AsText(data, size));
  snapd::Config config;
  try {
    config = snapd::BuildConfig(inputs);
  } catch (const snapd::Error& e) {
    const std::string_view message = e.what();
    Check(message.find('\n') == std::string_view::npos, "config errors are one line");
    // (Unless the input itself holds the text, e.g. as a key name.)
    Check(!ShowsSecret(message) || ShowsSecret(snapd::fuzz::AsText(data, size)),
          "config errors never show a secret");
    return 0;
  }
  // Status shows the config (secrets as "(set)") as the API writes JSON: paths and names are
  // bytes, so not always UTF-8.
  const std::string status =
      snapd::ConfigToJson(config).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  Check(!ShowsSecret(status) || ShowsSecret(snapd::fuzz::AsText(data, size)),
        "the config as status JSON never shows a secret");
  return 0;
}
