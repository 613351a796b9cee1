// Peer credentials of UNIX sockets and the user-namespace facts about how peers appear.
#include "control/peer_credentials.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <string>

#include "control/access_policy.h"

namespace snapd {
namespace {

// The peer's supplementary groups as the kernel recorded them at connect(); nullopt when the
// kernel has no SO_PEERGROUPS (before Linux 4.13).
std::optional<std::vector<gid_t>> PeerGroups(int fd) {
  std::vector<gid_t> groups(32);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
      groups.resize(length / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) return std::nullopt;
    groups.resize(length / sizeof(gid_t) + 1);  // length now says how much is needed
  }
  return std::nullopt;
}

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::optional<PeerCredentials> ReadPeerCredentials(int fd) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return std::nullopt;
  PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
  if (auto groups = PeerGroups(fd)) {
    peer.groups = std::move(*groups);
  } else {
    peer.groups = AccountGroups(cred.uid, cred.gid);
  }
  return peer;
}

std::vector<gid_t> AccountGroups(uid_t uid, gid_t gid) {
  std::vector<char> buffer(16 << 10);
  passwd entry{};
  passwd* found = nullptr;
  while (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == ERANGE &&
         buffer.size() < (1 << 20)) {
    buffer.resize(buffer.size() * 2);
  }
  if (found == nullptr) return {};
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    int count = static_cast<int>(groups.size());
    if (getgrouplist(found->pw_name, gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<size_t>(count));
      return groups;
    }
    groups.resize(static_cast<size_t>(count) + 1);  // count now says how many there are
  }
  return {};
}

uid_t UnmappedPeerUid() {
  // The kernel's default overflow uid. /proc/sys/kernel/overflowuid could say otherwise, but
  // the unit hides /proc/sys (ProcSubset=pid) and hardly anyone changes it.
  constexpr uid_t kOverflowUid = 65534;
  std::string uid_map = ReadSmallFile("/proc/self/uid_map");
  // An unreadable map: assume the initial namespace, where no peer is unmapped.
  if (uid_map.empty() || UidMapCovers(uid_map, kOverflowUid)) return static_cast<uid_t>(-1);
  return kOverflowUid;
}

}  // namespace snapd
