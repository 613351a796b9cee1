// k3s's merge of config.yaml and config.yaml.d/*.yaml, as pkg/configfilearg's readConfigFile.
#include "config/k3s_config.h"

#include <map>

namespace snapd {
namespace {

struct Item {
  YAML::Node node;
  std::string file;
};

// A key's value so far: one item, or a list of them.
struct Value {
  bool list = false;
  std::vector<Item> items;
};

Value FromNode(const YAML::Node& node, const std::string& file) {
  Value value;
  if (node.IsSequence()) {
    value.list = true;
    for (const YAML::Node& item : node) value.items.push_back({item, file});
  } else {
    value.items.push_back({node, file});
  }
  return value;
}

// k3s's toSlice: a list stays a list, a null value is no item, anything else is one item.
std::vector<Item> ToItems(const Value& value) {
  if (value.list) return value.items;
  if (value.items.front().node.IsNull()) return {};
  return value.items;
}

}  // namespace

std::vector<K3sConfigFlag> MergeK3sConfig(const std::vector<K3sConfigDocument>& documents) {
  std::vector<std::string> order;
  std::map<std::string, Value> values;
  for (const K3sConfigDocument& document : documents) {
    if (!document.root.IsMap()) continue;
    for (const auto& entry : document.root) {
      if (!entry.first.IsScalar()) continue;
      std::string key = entry.first.Scalar();
      const bool append = key.ends_with('+');
      if (append) key.pop_back();
      Value added = FromNode(entry.second, document.path);
      auto it = values.find(key);
      if (it == values.end()) {
        order.push_back(key);
        values.emplace(key, std::move(added));
      } else if (append) {
        std::vector<Item> items = ToItems(it->second);
        for (Item& item : ToItems(added)) items.push_back(std::move(item));
        it->second = Value{true, std::move(items)};
      } else {
        it->second = std::move(added);
      }
    }
  }
  std::vector<K3sConfigFlag> flags;
  for (const std::string& key : order) {
    for (const Item& item : values[key].items) flags.push_back({key, item.node, item.file});
  }
  return flags;
}

}  // namespace snapd
