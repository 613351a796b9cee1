// GET /v1/snapshots filters: query parsing (and refusals), formatting, and the filter itself.
#include <catch2/catch.hpp>

#include "control/snapshot_query.h"
#include "core/error.h"
#include "require_error.h"

namespace snapd {
namespace {

SnapshotRecord Rec(std::string name, std::string node, std::string storage) {
  SnapshotRecord r;
  r.name = std::move(name);
  r.node = std::move(node);
  r.storage = std::move(storage);
  return r;
}

}  // namespace

TEST_CASE("snapshot query: parsed from the target", "[snapshot-query]") {
  SnapshotQuery none = ParseSnapshotQuery("/v1/snapshots");
  CHECK(none.storage.empty());
  CHECK_FALSE(none.limit.has_value());
  SnapshotQuery q =
      ParseSnapshotQuery("/v1/snapshots?storage=s3&node=server%2D1.a&name=on+demand&limit=5");
  CHECK(q.storage == "s3");
  CHECK(q.node == "server-1.a");
  CHECK(q.name_prefix == "on demand");
  CHECK(q.limit == 5u);
  CHECK(ParseSnapshotQuery("/v1/snapshots?limit=0").limit == 0u);
  CHECK(ParseSnapshotQuery(SnapshotQueryString(q)).node == "server-1.a");
  CHECK(SnapshotQueryString(SnapshotQuery{}).empty());
  CHECK(SnapshotQueryString(q) == "?storage=s3&node=server-1.a&name=on%20demand&limit=5");

  RequireError([] { ParseSnapshotQuery("/v1/snapshots?storage=nfs"); }, ErrorKind::kInvalidInput,
               "local or s3");
  RequireError([] { ParseSnapshotQuery("/v1/snapshots?limit=-1"); }, ErrorKind::kInvalidInput,
               "whole number");
  RequireError([] { ParseSnapshotQuery("/v1/snapshots?limit="); }, ErrorKind::kInvalidInput,
               "whole number");
  RequireError([] { ParseSnapshotQuery("/v1/snapshots?sort=size"); }, ErrorKind::kInvalidInput,
               "unknown query parameter");
  RequireError([] { ParseSnapshotQuery("/v1/snapshots?node=a&node=b"); }, ErrorKind::kInvalidInput,
               "twice");
  RequireError([] { ParseSnapshotQuery("/v1/snapshots?node=%zz"); }, ErrorKind::kInvalidInput,
               "percent");
}

TEST_CASE("snapshot query: filters keep the listing's order", "[snapshot-query]") {
  const std::vector<SnapshotRecord> listing = {
      Rec("on-demand-a-3", "a", "local"), Rec("on-demand-a-3", "a", "s3"),
      Rec("etcd-snapshot-b-2", "b", "s3"), Rec("on-demand-b-1", "b", "local")};
  auto names = [&listing](const SnapshotQuery& q) {
    std::vector<SnapshotRecord> records = listing;
    ApplySnapshotQuery(q, records);
    std::vector<std::string> out;
    for (const SnapshotRecord& r : records) out.push_back(r.name + "@" + r.storage);
    return out;
  };
  CHECK(names({}).size() == 4);
  CHECK(names({"s3", "", "", std::nullopt}) ==
        std::vector<std::string>{"on-demand-a-3@s3", "etcd-snapshot-b-2@s3"});
  CHECK(names({"", "b", "", std::nullopt}) ==
        std::vector<std::string>{"etcd-snapshot-b-2@s3", "on-demand-b-1@local"});
  CHECK(names({"", "", "on-demand", 2}) ==
        std::vector<std::string>{"on-demand-a-3@local", "on-demand-a-3@s3"});
  CHECK(names({"", "", "", 0}).empty());
}

}  // namespace snapd
