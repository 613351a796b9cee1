// The steps of BuildConfig after merging: defaults that depend on other values, then checks of
// every final value. Errors name the file, flag or environment variable that set the key.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"

namespace snapd {

// Fills keys no source set whose default is "${data-dir}/..." and node-name (from `hostname`).
void ResolveDerivedDefaults(Config& config, const std::string& hostname);

// Where to fix `key`: "PATH: key", "--key", "env AWS_X: key" or "key (default)".
std::string WhereSet(const Config& config, std::string_view key);

// Throws Error::InvalidInput on the first key whose value is not acceptable.
void ValidateConfig(const Config& config);

// The same check of one key alone.
void ValidateConfigKey(const Config& config, std::string_view name);

}  // namespace snapd
