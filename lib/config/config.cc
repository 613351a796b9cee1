// Config's lookup of where a value came from.
#include "config/config.h"

namespace snapd {

std::string Config::SourceOf(std::string_view key) const {
  auto it = sources.find(std::string(key));
  return it == sources.end() ? "default" : it->second;
}

}  // namespace snapd
