// Who may do what on the control socket: root and the daemon's own user everything; members of
// the socket's group read, and save, delete, prune, restore and cancel too when
// control-socket-group-access is write; anyone else nothing. Pure, so every case is tested.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "control/api_message.h"
#include "control/api_routes.h"

namespace snapd {

// control-socket-group-access: what members of the socket's group may do.
enum class GroupAccess { kRead, kWrite };

// "read" or "write"; anything else is Error::InvalidInput.
GroupAccess ParseGroupAccess(std::string_view text);

struct AccessPolicy {
  uid_t daemon_uid = 0;                  // may do everything, like root
  gid_t group = static_cast<gid_t>(-1);  // the control socket's group; -1: none
  std::string group_name;                // for messages; "" shows only the number
  GroupAccess group_access = GroupAccess::kRead;
  // The id every peer the daemon's user namespace does not map shows up as (the kernel's
  // overflow uid, 65534, under systemd's PrivateUsers=yes, where only root is mapped). Such a
  // peer's groups cannot be seen, but connecting needed write permission on the socket (mode
  // 0660, the group above), so it counts as a member. -1 when every uid is seen as it is.
  uid_t unmapped_uid = static_cast<uid_t>(-1);
};

enum class PeerRole {
  kAdmin,     // root or the daemon's own user
  kMember,    // in the socket's group, by primary or supplementary group
  kUnmapped,  // shows as unmapped_uid: let in by the socket's mode and group
  kStranger,  // none of these
};

PeerRole RoleOf(const AccessPolicy& policy, const PeerCredentials& peer);

// nullopt when `peer` may perform `operation`; otherwise the one-line reason for a 403, e.g.
// "save needs root or control-socket-group-access: write (uid 1000 may only read)".
// Unmatched requests (kWrongMethod, kNoSuchPath) need what reading needs.
std::optional<std::string> RefusalOf(const AccessPolicy& policy, const PeerCredentials& peer,
                                     ApiOperation operation);

// Whether the /proc/PID/uid_map text `uid_map` ("inside outside count" lines) maps `uid`
// inside the namespace. Malformed lines map nothing.
bool UidMapCovers(std::string_view uid_map, uid_t uid);

}  // namespace snapd
