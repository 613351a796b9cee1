// What is computed from a snapshot's live keys: which resource (and namespace) a key belongs to,
// per-resource sums, a Kubernetes value's type, and the diff of two key spaces.
#include <map>

#include <catch2/catch.hpp>

#include "inspect/kube_value.h"
#include "inspect/resource_prefix.h"
#include "inspect/snapshot_diff.h"

using namespace snapd;

namespace {

// Live keys held in a map (values are string literals): the contents' rules (key order,
// prefix, exact) without a file.
class KeyMapContents final : public SnapshotContents {
 public:
  explicit KeyMapContents(std::map<std::string, LiveKey> keys) : keys_(std::move(keys)) {
    for (auto& [key, kv] : keys_) kv.key = key;
  }
  int64_t revision() const override { return 100; }
  int64_t compact_revision() const override { return 0; }
  uint64_t stored_revisions() const override { return keys_.size(); }
  void ForEachLive(std::string_view prefix, bool exact,
                   const std::function<void(const LiveKey&)>& visit) const override {
    for (const auto& [key, kv] : keys_) {
      if (exact ? key == prefix : std::string_view(key).starts_with(prefix)) visit(kv);
    }
  }
  std::optional<KvHash> HashKV(int64_t) const override { return std::nullopt; }

 private:
  std::map<std::string, LiveKey> keys_;
};

LiveKey Kv(std::string_view value, int64_t mod, int64_t create = 1, int64_t lease = 0) {
  LiveKey kv;
  kv.value = value;
  kv.mod_revision = mod;
  kv.create_revision = create;
  kv.lease = lease;
  return kv;
}

}  // namespace

TEST_CASE("keys belong to their resource, group and namespace", "[inspect-summary]") {
  CHECK(ResourcePrefix("/registry/secrets/default/db", false) == "/registry/secrets/");
  CHECK(ResourcePrefix("/registry/secrets/default/db", true) == "/registry/secrets/default/");
  // Cluster-wide objects have no namespace level.
  CHECK(ResourcePrefix("/registry/namespaces/default", true) == "/registry/namespaces/");
  CHECK(ResourcePrefix("/registry/minions/node-1", true) == "/registry/minions/");
  // Aggregated and custom groups are stored under the group.
  CHECK(ResourcePrefix("/registry/cert-manager.io/certificates/web/tls", false) ==
        "/registry/cert-manager.io/certificates/");
  CHECK(ResourcePrefix("/registry/cert-manager.io/certificates/web/tls", true) ==
        "/registry/cert-manager.io/certificates/web/");
  CHECK(ResourcePrefix("/registry/apiextensions.k8s.io/customresourcedefinitions/x.example.com",
                       true) == "/registry/apiextensions.k8s.io/customresourcedefinitions/");
  CHECK(ResourcePrefix("/registry/services/specs/default/kubernetes", false) ==
        "/registry/services/specs/");
  CHECK(ResourcePrefix("/registry/services/endpoints/default/kubernetes", true) ==
        "/registry/services/endpoints/default/");
  // Outside /registry/: the first segment, or the key itself.
  CHECK(ResourcePrefix("/bootstrap/abc123", false) == "/bootstrap/");
  CHECK(ResourcePrefix("compact_rev_key", false) == "compact_rev_key");
  CHECK(ResourcePrefix("/registry/x", true) == "/registry/x");
  CHECK(ResourcePrefix("/registry/", false) == "/registry/");
  CHECK(ResourcePrefix("", false) == "");
}

TEST_CASE("live keys and value bytes are summed per resource", "[inspect-summary]") {
  KeyMapContents contents({{"/registry/secrets/a/s1", Kv("12345", 5)},
                           {"/registry/secrets/b/s2", Kv("123", 6)},
                           {"/registry/configmaps/a/c1", Kv("1", 7)},
                           {"/bootstrap/x", Kv("", 2)}});
  std::vector<PrefixUsage> usage = SummarizeByPrefix(contents, false);
  REQUIRE(usage.size() == 3);
  CHECK(usage[0].prefix == "/bootstrap/");
  CHECK(usage[1].prefix == "/registry/configmaps/");
  CHECK((usage[2].prefix == "/registry/secrets/" && usage[2].keys == 2 && usage[2].bytes == 8));
  usage = SummarizeByPrefix(contents, true);
  REQUIRE(usage.size() == 4);
  CHECK((usage[2].prefix == "/registry/secrets/a/" && usage[2].bytes == 5));
  CHECK((usage[3].prefix == "/registry/secrets/b/" && usage[3].bytes == 3));
}

TEST_CASE("a Kubernetes value says what it is", "[inspect-summary]") {
  using namespace std::string_literals;
  // runtime.Unknown{typeMeta{apiVersion "v1", kind "Secret"}, raw "x"} in the k8s envelope.
  KubeValue secret = DescribeKubeValue("k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x01x"s);
  CHECK(secret.encoding == "protobuf");
  CHECK(secret.api_version == "v1");
  CHECK(secret.kind == "Secret");
  CHECK(secret.object.is_null());
  KubeValue cr = DescribeKubeValue(R"({"apiVersion":"example.com/v1","kind":"Widget","spec":{}})");
  CHECK(cr.encoding == "json");
  CHECK(cr.kind == "Widget");
  CHECK(cr.object["spec"].is_object());
  KubeValue sealed = DescribeKubeValue("k8s:enc:aescbc:v1:key1:\x01\x02garbage"s);
  CHECK(sealed.encoding == "encrypted");
  CHECK(sealed.provider == "k8s:enc:aescbc:v1:key1");
  // Truncated protobuf, broken JSON, plain text: raw, never an exception.
  CHECK(DescribeKubeValue("k8s\0\x0a\x7f\x0a"s).encoding == "raw");
  CHECK(DescribeKubeValue("{not json").encoding == "raw");
  CHECK(DescribeKubeValue("[1,2]").encoding == "raw");
  CHECK(DescribeKubeValue("").encoding == "raw");
}

TEST_CASE("diff names added, removed and changed keys per resource", "[inspect-summary]") {
  KeyMapContents before({{"/registry/secrets/a/gone", Kv("x", 5)},
                         {"/registry/secrets/a/same", Kv("y", 6)},
                         {"/registry/configmaps/a/edited", Kv("old", 7)},
                         {"/registry/configmaps/a/recreated", Kv("z", 8, 8)},
                         {"/registry/leases/a/l", Kv("h", 9, 9, 1)}});
  KeyMapContents after({{"/registry/secrets/a/same", Kv("y", 6)},
                        {"/registry/secrets/a/new", Kv("n", 20)},
                        {"/registry/configmaps/a/edited", Kv("new", 21)},
                        {"/registry/configmaps/a/recreated", Kv("z", 22, 22)},
                        {"/registry/leases/a/l", Kv("h", 9, 9, 2)}});
  SnapshotDiff diff = DiffSnapshots(before, after, "");
  std::map<std::string, std::string> changes;
  for (const KeyChange& c : diff.changes) changes[c.key] = std::string(KeyChangeName(c.kind));
  CHECK(changes == std::map<std::string, std::string>{
                       {"/registry/secrets/a/gone", "removed"},
                       {"/registry/secrets/a/new", "added"},
                       {"/registry/configmaps/a/edited", "changed"},
                       {"/registry/configmaps/a/recreated", "changed"},
                       {"/registry/leases/a/l", "changed"},
                   });
  CHECK(diff.unchanged == 1);
  REQUIRE(diff.prefixes.size() == 3);
  CHECK(diff.prefixes[0].prefix == "/registry/configmaps/");
  CHECK(diff.prefixes[0].changed == 2);
  CHECK((diff.prefixes[2].added == 1 && diff.prefixes[2].removed == 1));
  // In key order, and limited to the prefix.
  CHECK(std::is_sorted(diff.changes.begin(), diff.changes.end(),
                       [](const auto& a, const auto& b) { return a.key < b.key; }));
  SnapshotDiff secrets = DiffSnapshots(before, after, "/registry/secrets/");
  CHECK(secrets.changes.size() == 2);
  CHECK(DiffSnapshots(before, before, "").changes.empty());
}
