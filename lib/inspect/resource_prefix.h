// Which Kubernetes resource (and namespace) a key of the apiserver's key space belongs to, as
// the prefix that holds all of it: "/registry/secrets/", "/registry/cert-manager.io/
// certificates/", with namespaces "/registry/secrets/kube-system/". Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/snapshot_contents.h"

namespace snapd {

// The resource prefix of `key`; with `namespaces`, the namespace's prefix under it when the key
// is a namespaced object. Keys outside /registry/ get their first path segment ("/bootstrap/"),
// or themselves when they have none.
std::string ResourcePrefix(std::string_view key, bool namespaces);

struct PrefixUsage {
  std::string prefix;
  uint64_t keys = 0;
  uint64_t bytes = 0;  // of the values
};

// Live keys and value bytes of `contents` per ResourcePrefix, in prefix order.
std::vector<PrefixUsage> SummarizeByPrefix(const SnapshotContents& contents, bool namespaces);

}  // namespace snapd
