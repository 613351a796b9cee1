// Helpers shared by the etcd transports: prefix ranges and keys in messages.
#include "etcd/etcd_client.h"

#include "core/error.h"

namespace snapd {

std::string EtcdPrefixEnd(std::string_view prefix) {
  if (prefix.empty()) throw Error::InvalidInput("etcd key prefix must not be empty");
  std::string end(prefix);
  while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::string(1, '\0');
  end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  return end;
}

std::string EtcdKeyForMessage(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr size_t kMax = 200;
  std::string out = "\"";
  for (char c : key.substr(0, kMax)) {
    const auto byte = static_cast<uint8_t>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\' && c != '"') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  out += key.size() > kMax ? "\"..." : "\"";
  return out;
}

}  // namespace snapd
