// k3s token hash (pkg/util/token.go semantics).
#include "snapshot/token_hash.h"

#include <cctype>

#include "core/digest.h"

namespace snapd {

std::string TokenHash(std::string_view token) {
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) {
    token.remove_prefix(1);
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
    token.remove_suffix(1);
  }
  if (token.empty()) return "";
  std::string_view password = token;
  if (token.starts_with("K10")) {
    if (size_t sep = token.find("::"); sep != std::string_view::npos) {
      std::string_view credentials = token.substr(sep + 2);
      size_t colon = credentials.find(':');
      password = colon == std::string_view::npos ? credentials : credentials.substr(colon + 1);
    }
  }
  return Sha256::HexOf(password).substr(0, 12);
}

}  // namespace snapd
