// k3s's server-token hash, recorded with every snapshot so a restore can tell whether the
// snapshot's bootstrap data can be decrypted with the current token.
#pragma once

#include <string>
#include <string_view>

namespace snapd {

// First 12 hex characters of sha256(password), where the token is
// `K10<ca-hash>::<user>:<password>` or a bare password. Surrounding whitespace is ignored.
// Empty token → empty hash.
std::string TokenHash(std::string_view token);

}  // namespace snapd
