// Who is on the other end of a UNIX socket, and how this process's user namespace shows
// peers it does not map: the facts the control socket's access policy is applied to.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "control/api_message.h"

namespace snapd {

// The peer of connected UNIX socket `fd` as of its connect(): pid, uid and primary gid from
// SO_PEERCRED, supplementary groups from SO_PEERGROUPS (on kernels without it, the groups
// /etc/group gives the uid's user, if the uid has a name). nullopt when SO_PEERCRED fails.
std::optional<PeerCredentials> ReadPeerCredentials(int fd);

// The groups of the user named by `uid` in the account database (getgrouplist), `gid`
// included; empty when the uid has no name.
std::vector<gid_t> AccountGroups(uid_t uid, gid_t gid);

// The uid under which peers this process's user namespace does not map show up (the kernel's
// overflow uid, 65534), when that uid is itself unmapped here, as under systemd's
// PrivateUsers=yes; -1 when this process sees every peer's real uid (the initial namespace).
uid_t UnmappedPeerUid();

}  // namespace snapd
