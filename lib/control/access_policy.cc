// The control socket's access rules and their refusal messages.
#include "control/access_policy.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "core/error.h"

namespace snapd {
namespace {

std::string GroupLabel(const AccessPolicy& policy) {
  std::string number = "gid " + std::to_string(policy.group);
  if (policy.group_name.empty()) return number;
  return policy.group_name + " (" + number + ")";
}

// Reads one unsigned number after optional blanks; false when there is none.
bool NextNumber(std::string_view& text, uint64_t& value) {
  size_t start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos) return false;
  text.remove_prefix(start);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return false;
  text.remove_prefix(static_cast<size_t>(end - text.data()));
  return true;
}

}  // namespace

GroupAccess ParseGroupAccess(std::string_view text) {
  if (text == "read") return GroupAccess::kRead;
  if (text == "write") return GroupAccess::kWrite;
  throw Error::InvalidInput("control-socket-group-access must be read or write, got \"" +
                            std::string(text) + "\"");
}

PeerRole RoleOf(const AccessPolicy& policy, const PeerCredentials& peer) {
  if (peer.uid == 0 || peer.uid == policy.daemon_uid) return PeerRole::kAdmin;
  const gid_t group = policy.group;
  if (group != static_cast<gid_t>(-1) &&
      (peer.gid == group ||
       std::find(peer.groups.begin(), peer.groups.end(), group) != peer.groups.end())) {
    return PeerRole::kMember;
  }
  if (policy.unmapped_uid != static_cast<uid_t>(-1) && peer.uid == policy.unmapped_uid) {
    return PeerRole::kUnmapped;
  }
  return PeerRole::kStranger;
}

std::optional<std::string> RefusalOf(const AccessPolicy& policy, const PeerCredentials& peer,
                                     ApiOperation operation) {
  const PeerRole role = RoleOf(policy, peer);
  if (role == PeerRole::kAdmin) return std::nullopt;
  const bool writes = ChangesState(operation);
  const bool group_writes = policy.group_access == GroupAccess::kWrite;
  if (role != PeerRole::kStranger && (!writes || group_writes)) return std::nullopt;

  std::string what(OperationName(operation));
  if (what.empty()) what = "this request";
  const std::string uid = "uid " + std::to_string(peer.uid);
  if (role != PeerRole::kStranger) {
    return what + " needs root or control-socket-group-access: write (" + uid + " may only read)";
  }
  if (policy.group == static_cast<gid_t>(-1)) {
    return what + " needs root; " + uid + " may not use the control socket";
  }
  if (writes && !group_writes) {
    return what + " needs root; " + uid + " is not in group " + GroupLabel(policy) +
           ", whose members may only read";
  }
  return what + " needs root or group " + GroupLabel(policy) + "; " + uid + " is not in that group";
}

bool UidMapCovers(std::string_view uid_map, uid_t uid) {
  while (!uid_map.empty()) {
    size_t newline = uid_map.find('\n');
    std::string_view line = uid_map.substr(0, newline);
    uid_map.remove_prefix(newline == std::string_view::npos ? uid_map.size() : newline + 1);
    uint64_t inside = 0, outside = 0, count = 0;
    if (!NextNumber(line, inside) || !NextNumber(line, outside) || !NextNumber(line, count)) {
      continue;
    }
    if (uid >= inside && uid - inside < count) return true;
  }
  return false;
}

}  // namespace snapd
