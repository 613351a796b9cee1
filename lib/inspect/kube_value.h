// What a value under /registry/ is: a Kubernetes object stored as protobuf (the "k8s\0"
// envelope) or JSON (custom resources), one encrypted at rest, or something else. Pure.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace snapd {

struct KubeValue {
  std::string encoding;  // "protobuf", "json", "encrypted" or "raw"
  std::string api_version;
  std::string kind;
  std::string provider;  // for "encrypted": the encryption provider's prefix, "k8s:enc:aescbc:v1:x"
  nlohmann::json object;  // for "json": the object itself; null otherwise
};

// Never throws: a value that does not parse as what its prefix says is "raw".
KubeValue DescribeKubeValue(std::string_view value);

}  // namespace snapd
