// k3s's own rules for its config file and the drop-ins of config.yaml.d (k3s's
// pkg/configfilearg), over already parsed YAML: which value of each key k3s ends up with.
// The daemon takes some of those keys as its lowest config layer (see k3s-config).
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace snapd {

// One k3s config file: its path and its top-level mapping (a null node when it is empty).
struct K3sConfigDocument {
  std::string path;
  YAML::Node root;
};

// One "--key=value" that k3s makes of its config files, in k3s's order.
struct K3sConfigFlag {
  std::string key;   // as written, without the "+" of an append
  YAML::Node value;  // a scalar or null; a list or mapping only where the file wrongly nests one
  std::string file;  // the file this value came from
};

// Merges `documents` (the main file first, then the drop-ins in file-name order) as k3s does:
// a later "key:" replaces the value, "key+:" appends to it (both turned into lists; with no
// earlier value it simply sets it), and each list becomes one flag per item. Keys come out in
// the order they were first seen; a flag parser taking the last of repeated flags then has
// k3s's value. Keys that are not scalars are left out (k3s drops them as unknown flags).
std::vector<K3sConfigFlag> MergeK3sConfig(const std::vector<K3sConfigDocument>& documents);

}  // namespace snapd
