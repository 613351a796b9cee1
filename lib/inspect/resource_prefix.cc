// ResourcePrefix and SummarizeByPrefix: the apiserver's storage paths, cut at the resource.
#include "inspect/resource_prefix.h"

#include <map>

namespace snapd {
namespace {

constexpr std::string_view kRegistry = "/registry/";

// The next '/'-separated segment of `rest` from `pos`; npos-safe: an empty view at the end.
std::string_view Segment(std::string_view rest, size_t& pos) {
  if (pos >= rest.size()) return {};
  size_t end = rest.find('/', pos);
  if (end == std::string_view::npos) end = rest.size();
  std::string_view segment = rest.substr(pos, end - pos);
  pos = end + 1;
  return segment;
}

}  // namespace

std::string ResourcePrefix(std::string_view key, bool namespaces) {
  if (!key.starts_with(kRegistry)) {
    if (!key.starts_with("/")) return std::string(key.substr(0, key.find('/')));
    const size_t end = key.find('/', 1);
    if (end == std::string_view::npos) return std::string(key);
    return std::string(key.substr(0, end + 1));
  }
  std::string_view rest = key.substr(kRegistry.size());
  size_t pos = 0;
  std::string_view first = Segment(rest, pos);
  size_t resource_end = pos;
  // Resources of an API group live under the group ("apps" is stored as core paths, but every
  // aggregated or custom group has a dot in its name); services keep specs and endpoints apart.
  if (first.find('.') != std::string_view::npos ||
      (first == "services" &&
       (rest.substr(pos).starts_with("specs/") || rest.substr(pos).starts_with("endpoints/")))) {
    Segment(rest, pos);
    resource_end = pos;
  }
  if (resource_end > rest.size()) return std::string(key);  // "/registry/x" without a name
  if (namespaces) {
    size_t after = resource_end;
    Segment(rest, after);
    // A namespaced object has its namespace and its name left; a cluster-wide one, its name.
    if (after < rest.size()) return std::string(key.substr(0, kRegistry.size() + after));
  }
  return std::string(key.substr(0, kRegistry.size() + resource_end));
}

std::vector<PrefixUsage> SummarizeByPrefix(const SnapshotContents& contents, bool namespaces) {
  std::map<std::string, PrefixUsage, std::less<>> usage;
  // Keys arrive in order, so one resource's keys mostly come together: the map is searched only
  // when the prefix changes.
  PrefixUsage* current = nullptr;
  contents.ForEachLive("", false, [&](const LiveKey& kv) {
    std::string prefix = ResourcePrefix(kv.key, namespaces);
    if (current == nullptr || prefix != current->prefix) {
      auto it = usage.find(prefix);
      if (it == usage.end()) it = usage.emplace(prefix, PrefixUsage{prefix}).first;
      current = &it->second;
    }
    ++current->keys;
    current->bytes += kv.value.size();
  });
  std::vector<PrefixUsage> out;
  out.reserve(usage.size());
  for (auto& [prefix, u] : usage) out.push_back(std::move(u));
  return out;
}

}  // namespace snapd
