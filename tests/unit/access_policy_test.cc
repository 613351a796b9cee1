// Tests of who may do what on the control socket: the route table both the router and the
// access policy go by, the policy for every kind of peer and operation, and its messages.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "control/access_policy.h"
#include "control/api_routes.h"
#include "core/error.h"
#include "require_error.h"

namespace snapd {
namespace {

constexpr uid_t kDaemonUid = 990;
constexpr gid_t kGroup = 1001;
constexpr uid_t kOverflow = 65534;

const std::vector<ApiOperation> kReads = {ApiOperation::kHealth,      ApiOperation::kMetrics,
                                          ApiOperation::kStatus,      ApiOperation::kListSnapshots,
                                          ApiOperation::kGetJob,      ApiOperation::kVerify,
                                          ApiOperation::kInspect,     ApiOperation::kDiff,
                                          ApiOperation::kWrongMethod, ApiOperation::kNoSuchPath};
const std::vector<ApiOperation> kWrites = {ApiOperation::kSave,      ApiOperation::kDelete,
                                           ApiOperation::kPrune,     ApiOperation::kRestore,
                                           ApiOperation::kCancelJob, ApiOperation::kUndelete,
                                           ApiOperation::kGetKeys};

AccessPolicy Policy(GroupAccess access, uid_t unmapped = static_cast<uid_t>(-1)) {
  AccessPolicy policy;
  policy.daemon_uid = kDaemonUid;
  policy.group = kGroup;
  policy.group_name = "snapadmins";
  policy.group_access = access;
  policy.unmapped_uid = unmapped;
  return policy;
}

PeerCredentials Peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  return PeerCredentials{4242, uid, gid, std::move(groups)};
}

bool Allowed(const AccessPolicy& policy, const PeerCredentials& peer, ApiOperation operation) {
  return !RefusalOf(policy, peer, operation).has_value();
}

TEST_CASE("the route table names each endpoint's operation", "[access]") {
  struct Case {
    const char* method;
    const char* target;
    ApiOperation operation;
  };
  const Case cases[] = {
      {"GET", "/healthz", ApiOperation::kHealth},
      {"GET", "/metrics", ApiOperation::kMetrics},
      {"GET", "/v1/status", ApiOperation::kStatus},
      {"GET", "/v1/snapshots", ApiOperation::kListSnapshots},
      {"GET", "/v1/snapshots?node=a", ApiOperation::kListSnapshots},
      {"POST", "/v1/snapshots", ApiOperation::kSave},
      {"POST", "/v1/snapshots/", ApiOperation::kSave},
      {"DELETE", "/v1/snapshots/on-demand-a-1", ApiOperation::kDelete},
      {"POST", "/v1/delete", ApiOperation::kDelete},
      // The router skips empty segments and decodes percent-escapes: so must the policy.
      {"DELETE", "//v1///snapshots/on-demand-a-1", ApiOperation::kDelete},
      {"DELETE", "/v1/%73napshots/x", ApiOperation::kDelete},
      {"POST", "/v1/%70rune", ApiOperation::kPrune},
      {"GET", "/v1/jobs/7", ApiOperation::kGetJob},
      {"DELETE", "/v1/jobs/7", ApiOperation::kCancelJob},
      {"POST", "/v1/verify", ApiOperation::kVerify},
      {"POST", "/v1/restore", ApiOperation::kRestore},
      {"POST", "/v1/prune", ApiOperation::kPrune},
      {"PUT", "/v1/snapshots", ApiOperation::kWrongMethod},
      {"GET", "/v1/prune", ApiOperation::kWrongMethod},
      {"HEAD", "/v1/status", ApiOperation::kWrongMethod},
      {"post", "/v1/snapshots", ApiOperation::kWrongMethod},  // methods are case-sensitive
      {"GET", "/v1/snapshots/a/b", ApiOperation::kNoSuchPath},
      {"GET", "/v2/status", ApiOperation::kNoSuchPath},
      {"GET", "/", ApiOperation::kNoSuchPath},
  };
  for (const Case& c : cases) {
    INFO(c.method << " " << c.target);
    CHECK(MatchRoute(c.method, c.target).operation == c.operation);
  }
  ApiRoute del = MatchRoute("DELETE", "/v1/snapshots/on%2Ddemand");
  REQUIRE(del.path.size() == 3);
  CHECK(del.path[2] == "on-demand");
  CHECK(MatchRoute("PUT", "/v1/snapshots").allowed_methods == "GET or POST");
  CHECK(MatchRoute("GET", "/v1/restore").allowed_methods == "POST");
  CHECK(MatchRoute("GET", "/nope").allowed_methods.empty());
  for (const char* bad : {"/v1/snap%", "/v1/snap%4", "/v1/snap%zz", "/v1/%-1x"}) {
    INFO(bad);
    RequireError([&] { MatchRoute("GET", bad); }, ErrorKind::kInvalidInput, "percent-encoding");
  }
}

TEST_CASE("save, delete, prune, restore, undelete and get need a writer; nothing else does",
          "[access]") {
  for (ApiOperation operation : kWrites) CHECK(ChangesState(operation));
  for (ApiOperation operation : kReads) CHECK_FALSE(ChangesState(operation));
  CHECK(OperationName(ApiOperation::kSave) == "save");
  CHECK(OperationName(ApiOperation::kDelete) == "delete");
  CHECK(OperationName(ApiOperation::kPrune) == "prune");
  CHECK(OperationName(ApiOperation::kRestore) == "restore");
  CHECK(OperationName(ApiOperation::kVerify) == "verify");
  CHECK(OperationName(ApiOperation::kInspect) == "inspect");
  CHECK(OperationName(ApiOperation::kGetKeys) == "get");
  CHECK(OperationName(ApiOperation::kUndelete) == "undelete");
  CHECK(MatchRoute("POST", "/v1/inspect").operation == ApiOperation::kInspect);
  CHECK(MatchRoute("POST", "/v1/get").operation == ApiOperation::kGetKeys);
  CHECK(MatchRoute("POST", "/v1/diff").operation == ApiOperation::kDiff);
  CHECK(MatchRoute("POST", "/v1/undelete").operation == ApiOperation::kUndelete);
  CHECK(MatchRoute("GET", "/v1/inspect").operation == ApiOperation::kWrongMethod);
  CHECK(OperationName(ApiOperation::kNoSuchPath).empty());
}

TEST_CASE("who may read and who may change snapshots", "[access]") {
  struct Case {
    const char* who;
    PeerCredentials peer;
    bool reads;            // under either setting
    bool writes_if_read;   // control-socket-group-access: read
    bool writes_if_write;  // control-socket-group-access: write
  };
  const Case cases[] = {
      {"root", Peer(0, 0), true, true, true},
      {"root with another group", Peer(0, 5000), true, true, true},
      {"the daemon's own user", Peer(kDaemonUid, kDaemonUid), true, true, true},
      {"member by primary group", Peer(1000, kGroup), true, false, true},
      {"member by supplementary group", Peer(1000, 1000, {27, kGroup, 100}), true, false, true},
      {"stranger", Peer(1000, 1000, {27, 100}), false, false, false},
      {"stranger with the group's number as uid", Peer(kGroup, 1000), false, false, false},
      {"nobody, seen as it is", Peer(kOverflow, kOverflow), false, false, false},
      {"a TCP-like peer with no ids", Peer(static_cast<uid_t>(-1), static_cast<gid_t>(-1)), false,
       false, false},
  };
  for (const Case& c : cases) {
    INFO(c.who);
    for (ApiOperation operation : kReads) {
      INFO(OperationName(operation));
      CHECK(Allowed(Policy(GroupAccess::kRead), c.peer, operation) == c.reads);
      CHECK(Allowed(Policy(GroupAccess::kWrite), c.peer, operation) == c.reads);
    }
    for (ApiOperation operation : kWrites) {
      INFO(OperationName(operation));
      CHECK(Allowed(Policy(GroupAccess::kRead), c.peer, operation) == c.writes_if_read);
      CHECK(Allowed(Policy(GroupAccess::kWrite), c.peer, operation) == c.writes_if_write);
    }
  }
}

TEST_CASE("an unmapped peer counts as a member: the socket's mode let it in", "[access]") {
  const PeerCredentials unmapped = Peer(kOverflow, kOverflow, {kOverflow});
  CHECK(RoleOf(Policy(GroupAccess::kRead, kOverflow), unmapped) == PeerRole::kUnmapped);
  CHECK(RoleOf(Policy(GroupAccess::kRead), unmapped) == PeerRole::kStranger);
  for (ApiOperation operation : kReads) {
    CHECK(Allowed(Policy(GroupAccess::kRead, kOverflow), unmapped, operation));
  }
  for (ApiOperation operation : kWrites) {
    CHECK_FALSE(Allowed(Policy(GroupAccess::kRead, kOverflow), unmapped, operation));
    CHECK(Allowed(Policy(GroupAccess::kWrite, kOverflow), unmapped, operation));
  }
  // Only that one uid: another stranger stays out.
  CHECK_FALSE(
      Allowed(Policy(GroupAccess::kWrite, kOverflow), Peer(1000, 1000), ApiOperation::kStatus));
}

TEST_CASE("roles: root and the daemon's user before groups, groups before the overflow uid",
          "[access]") {
  const AccessPolicy policy = Policy(GroupAccess::kRead, kOverflow);
  CHECK(RoleOf(policy, Peer(0, kGroup)) == PeerRole::kAdmin);
  CHECK(RoleOf(policy, Peer(kDaemonUid, 1)) == PeerRole::kAdmin);
  CHECK(RoleOf(policy, Peer(kOverflow, kOverflow, {kGroup})) == PeerRole::kMember);
  CHECK(RoleOf(policy, Peer(1000, kGroup)) == PeerRole::kMember);
  CHECK(RoleOf(policy, Peer(1000, 1000)) == PeerRole::kStranger);
  // No group configured: -1 must not match a peer whose gid is unknown (-1).
  AccessPolicy no_group = policy;
  no_group.group = static_cast<gid_t>(-1);
  CHECK(RoleOf(no_group, Peer(1000, static_cast<gid_t>(-1), {static_cast<gid_t>(-1)})) ==
        PeerRole::kStranger);
}

TEST_CASE("refusals name the operation, what it needs and who asked", "[access]") {
  CHECK(RefusalOf(Policy(GroupAccess::kRead), Peer(1000, kGroup), ApiOperation::kSave) ==
        "save needs root or control-socket-group-access: write (uid 1000 may only read)");
  CHECK(RefusalOf(Policy(GroupAccess::kRead, kOverflow), Peer(kOverflow, kOverflow),
                  ApiOperation::kRestore) ==
        "restore needs root or control-socket-group-access: write (uid 65534 may only read)");
  CHECK(RefusalOf(Policy(GroupAccess::kRead), Peer(1000, 1000), ApiOperation::kStatus) ==
        "status needs root or group snapadmins (gid 1001); uid 1000 is not in that group");
  CHECK(RefusalOf(Policy(GroupAccess::kWrite), Peer(1000, 1000), ApiOperation::kDelete) ==
        "delete needs root or group snapadmins (gid 1001); uid 1000 is not in that group");
  CHECK(RefusalOf(Policy(GroupAccess::kRead), Peer(1000, 1000), ApiOperation::kPrune) ==
        "prune needs root; uid 1000 is not in group snapadmins (gid 1001), whose members may "
        "only read");
  CHECK(RefusalOf(Policy(GroupAccess::kRead), Peer(1000, 1000), ApiOperation::kNoSuchPath) ==
        "this request needs root or group snapadmins (gid 1001); uid 1000 is not in that group");
  AccessPolicy unnamed = Policy(GroupAccess::kRead);
  unnamed.group_name.clear();
  CHECK(RefusalOf(unnamed, Peer(1000, 1000), ApiOperation::kListSnapshots) ==
        "list needs root or group gid 1001; uid 1000 is not in that group");
  unnamed.group = static_cast<gid_t>(-1);
  CHECK(RefusalOf(unnamed, Peer(1000, 1000), ApiOperation::kStatus) ==
        "status needs root; uid 1000 may not use the control socket");
}

TEST_CASE("control-socket-group-access is read or write", "[access]") {
  CHECK(ParseGroupAccess("read") == GroupAccess::kRead);
  CHECK(ParseGroupAccess("write") == GroupAccess::kWrite);
  RequireError([] { ParseGroupAccess("Write"); }, ErrorKind::kInvalidInput, "\"Write\"");
  RequireError([] { ParseGroupAccess(""); }, ErrorKind::kInvalidInput,
               "control-socket-group-access");
}

TEST_CASE("a refusal is its own error kind", "[access]") {
  Error e = Error::PermissionDenied("save needs root");
  CHECK(e.kind() == ErrorKind::kPermissionDenied);
  CHECK(ErrorKindName(e.kind()) == "permission_denied");
}

TEST_CASE("uid maps: which uids a user namespace sees as they are", "[access]") {
  // As the kernel prints them: right-aligned columns.
  const std::string initial = "         0          0 4294967295\n";
  CHECK(UidMapCovers(initial, 0));
  CHECK(UidMapCovers(initial, 65534));
  // systemd's PrivateUsers=yes: root only, or root and the unit's user.
  const std::string private_users = "         0          0          1\n";
  CHECK(UidMapCovers(private_users, 0));
  CHECK_FALSE(UidMapCovers(private_users, 65534));
  const std::string with_user = "0 0 1\n990 990 1\n";
  CHECK(UidMapCovers(with_user, 990));
  CHECK_FALSE(UidMapCovers(with_user, 991));
  CHECK_FALSE(UidMapCovers(with_user, 65534));
  // A container's range maps the ids inside it.
  const std::string range = "0 100000 65536";
  CHECK(UidMapCovers(range, 65534));
  CHECK_FALSE(UidMapCovers(range, 65536));
  CHECK_FALSE(UidMapCovers("", 0));
  CHECK_FALSE(UidMapCovers("garbage\n0 0\n", 0));
}

}  // namespace
}  // namespace snapd
