// The control API's routes that look inside snapshots: inspect, get, diff, and undelete (which
// also writes to etcd). Each runs as a job; its result is the answer.
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include <spdlog/spdlog.h>

#include "backup/snapshot_inspection.h"
#include "backup/undelete.h"
#include "control/api_body.h"
#include "control/api_router.h"
#include "core/durable_file.h"
#include "core/encoding.h"
#include "core/error.h"
#include "inspect/kube_value.h"
#include "inspect/resource_prefix.h"
#include "inspect/snapshot_diff.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

// A get answers with the values in its job result, which the daemon keeps in memory for a
// while: a prefix that holds more than this is refused, to be narrowed.
constexpr uint64_t kMaxGetBytes = 32u << 20;
// Jobs started here keep their scratch copies apart, so that two at once never share a file.
std::atomic<uint64_t> scratch_sequence{0};

// A fresh private directory under `base` for one job's decoded copies. The first one of this
// process also removes what an earlier daemon, killed mid-job, left there.
std::string ScratchDir(const std::string& base) {
  if (base.empty()) return "";
  static std::once_flag swept;
  std::call_once(swept, [&] {
    std::error_code ec;
    std::filesystem::remove_all(base, ec);
    if (ec) spdlog::warn("inspect: could not clear {}: {}", base, ec.message());
  });
  MakePrivateDirectories(base);
  return base + "/job-" + std::to_string(++scratch_sequence);
}

// Removes a job's scratch directory (its files are removed by their OpenedSnapshot).
struct ScratchDirGuard {
  std::string path;
  ~ScratchDirGuard() {
    if (!path.empty()) ::rmdir(path.c_str());
  }
};

// The body of get and undelete: which keys of which snapshot.
struct KeyRequest {
  std::string name;
  std::string key;
  bool prefix = false;
  std::string storage;
};

std::string SnapshotNameField(const nlohmann::json& body, const char* key) {
  std::string name = StringField(body, key, true);
  ValidateSnapshotName(name);
  return name;
}

KeyRequest ReadKeyRequest(const ApiRequest& request) {
  nlohmann::json body = ObjectBody(request, {"name", "key", "prefix", "storage"});
  KeyRequest out;
  out.name = SnapshotNameField(body, "name");
  out.key = StringField(body, "key", true);
  if (out.key.empty()) throw Error::InvalidInput("\"key\" must not be empty");
  out.prefix = BoolField(body, "prefix");
  out.storage = StorageField(body);
  return out;
}

nlohmann::json SourceJson(const OpenedSnapshot& opened) {
  return {{"name", opened.record().name},
          {"storage", opened.record().storage},
          {"location", opened.record().location},
          {"datastore", opened.record().datastore},
          {"readInPlace", !opened.staged()}};
}

nlohmann::json HashJson(const std::optional<KvHash>& hash) {
  if (!hash) return nullptr;
  return {{"hash", hash->hash},
          {"revision", hash->revision},
          {"compactRevision", hash->compact_revision}};
}

nlohmann::json KeyValueJson(const LiveKey& kv) {
  nlohmann::json j = {{"key", std::string(kv.key)},
                      {"value", Base64Encode(kv.value)},
                      {"createRevision", kv.create_revision},
                      {"modRevision", kv.mod_revision},
                      {"version", kv.version},
                      {"lease", kv.lease}};
  KubeValue kube = DescribeKubeValue(kv.value);
  j["encoding"] = kube.encoding;
  if (!kube.api_version.empty()) j["apiVersion"] = kube.api_version;
  if (!kube.kind.empty()) j["kind"] = kube.kind;
  if (!kube.provider.empty()) j["encryptionProvider"] = kube.provider;
  if (!kube.object.is_null()) j["object"] = std::move(kube.object);
  return j;
}

}  // namespace

bool ApiRouter::MayReadJobResult(const JobState& job, const PeerCredentials& peer) const {
  std::lock_guard lock(private_jobs_mutex_);
  auto it = private_jobs_.find(job.id);
  return it == private_jobs_.end() || it->second == peer.uid;
}

ApiResponse ApiRouter::StartInspect(const ApiRequest& request) {
  nlohmann::json body = ObjectBody(request, {"name", "storage", "namespaces"});
  const std::string name = SnapshotNameField(body, "name");
  const std::string storage = StorageField(body);
  const bool namespaces = BoolField(body, "namespaces");
  ApiBackend backend = backend_;
  std::shared_ptr<const void> hold = backend_.retain ? backend_.retain() : nullptr;
  uint64_t id = backend_.jobs->Start("inspect", [=](JobContext& job) {
    (void)hold;
    ScratchDirGuard scratch{ScratchDir(backend.inspect_scratch_dir)};
    auto opened = OpenStoredSnapshot(*backend.service, name, storage, scratch.path, job);
    const SnapshotContents& contents = opened->contents();
    nlohmann::json prefixes = nlohmann::json::array();
    uint64_t keys = 0;
    uint64_t bytes = 0;
    for (const PrefixUsage& usage : SummarizeByPrefix(contents, namespaces)) {
      prefixes.push_back({{"prefix", usage.prefix}, {"keys", usage.keys}, {"bytes", usage.bytes}});
      keys += usage.keys;
      bytes += usage.bytes;
    }
    job.SetResult({{"snapshot", SourceJson(*opened)},
                   {"revision", contents.revision()},
                   {"compactRevision", contents.compact_revision()},
                   {"keys", keys},
                   {"bytes", bytes},
                   {"storedRevisions", contents.stored_revisions()},
                   {"hashKV", HashJson(contents.HashKV())},
                   {"prefixes", prefixes}});
  });
  return Json(202, {{"job", JobToJson(*backend_.jobs->Get(id))}});
}

ApiResponse ApiRouter::StartGet(const ApiRequest& request) {
  const KeyRequest r = ReadKeyRequest(request);
  ApiBackend backend = backend_;
  std::shared_ptr<const void> hold = backend_.retain ? backend_.retain() : nullptr;
  // The job is registered as private before it can finish, so no poll ever sees its values
  // unguarded.
  std::unique_lock lock(private_jobs_mutex_);
  uint64_t id = backend_.jobs->Start("get", [=](JobContext& job) {
    (void)hold;
    ScratchDirGuard scratch{ScratchDir(backend.inspect_scratch_dir)};
    auto opened = OpenStoredSnapshot(*backend.service, r.name, r.storage, scratch.path, job);
    nlohmann::json kvs = nlohmann::json::array();
    uint64_t bytes = 0;
    opened->contents().ForEachLive(r.key, !r.prefix, [&](const LiveKey& kv) {
      bytes += kv.key.size() + kv.value.size();
      if (bytes > kMaxGetBytes) {
        throw Error::InvalidInput("the keys under " + EtcdKeyForMessage(r.key) + " hold over " +
                                  std::to_string(kMaxGetBytes >> 20) +
                                  " MiB; ask for a longer prefix");
      }
      kvs.push_back(KeyValueJson(kv));
    });
    if (kvs.empty()) {
      throw Error::NotFound(std::string(r.prefix ? "no key under " : "no key ") +
                            EtcdKeyForMessage(r.key) + " in " + r.name);
    }
    job.SetResult({{"snapshot", SourceJson(*opened)},
                   {"revision", opened->contents().revision()},
                   {"kvs", std::move(kvs)}});
  });
  // Kept for the daemon's life (a few bytes per get): an entry dropped early would show an old
  // job's values to everyone while the runner still keeps it.
  private_jobs_[id] = request.peer.uid;
  lock.unlock();
  return Json(202, {{"job", JobToJson(*backend_.jobs->Get(id))}});
}

ApiResponse ApiRouter::StartDiff(const ApiRequest& request) {
  nlohmann::json body = ObjectBody(request, {"from", "to", "prefix", "storage"});
  const std::string from = SnapshotNameField(body, "from");
  const std::string to = SnapshotNameField(body, "to");
  const std::string prefix = StringField(body, "prefix", false);
  const std::string storage = StorageField(body);
  ApiBackend backend = backend_;
  std::shared_ptr<const void> hold = backend_.retain ? backend_.retain() : nullptr;
  uint64_t id = backend_.jobs->Start("diff", [=](JobContext& job) {
    (void)hold;
    ScratchDirGuard scratch_from{ScratchDir(backend.inspect_scratch_dir)};
    ScratchDirGuard scratch_to{ScratchDir(backend.inspect_scratch_dir)};
    auto before = OpenStoredSnapshot(*backend.service, from, storage, scratch_from.path, job);
    auto after = OpenStoredSnapshot(*backend.service, to, storage, scratch_to.path, job);
    SnapshotDiff diff = DiffSnapshots(before->contents(), after->contents(), prefix);
    nlohmann::json changes = nlohmann::json::array();
    uint64_t counts[3] = {0, 0, 0};
    for (const KeyChange& c : diff.changes) {
      ++counts[static_cast<int>(c.kind)];
      changes.push_back({{"key", c.key},
                         {"change", KeyChangeName(c.kind)},
                         {"modRevisionFrom", c.mod_revision_before},
                         {"modRevisionTo", c.mod_revision_after},
                         {"bytesFrom", c.bytes_before},
                         {"bytesTo", c.bytes_after}});
    }
    nlohmann::json prefixes = nlohmann::json::array();
    for (const PrefixChanges& p : diff.prefixes) {
      prefixes.push_back({{"prefix", p.prefix},
                          {"added", p.added},
                          {"removed", p.removed},
                          {"changed", p.changed}});
    }
    job.SetResult({{"from", SourceJson(*before)},
                   {"to", SourceJson(*after)},
                   {"fromRevision", before->contents().revision()},
                   {"toRevision", after->contents().revision()},
                   {"prefix", prefix},
                   {"added", counts[static_cast<int>(KeyChange::Kind::kAdded)]},
                   {"removed", counts[static_cast<int>(KeyChange::Kind::kRemoved)]},
                   {"changed", counts[static_cast<int>(KeyChange::Kind::kChanged)]},
                   {"unchanged", diff.unchanged},
                   {"prefixes", prefixes},
                   {"changes", changes}});
  });
  return Json(202, {{"job", JobToJson(*backend_.jobs->Get(id))}});
}

ApiResponse ApiRouter::StartUndelete(const ApiRequest& request) {
  const KeyRequest r = ReadKeyRequest(request);
  if (backend_.etcd_kv == nullptr) {
    throw Error::InvalidInput("undelete writes to etcd, and this server's datastore is " +
                              backend_.datastore_kind + " (" + backend_.datastore_location + ")");
  }
  ApiBackend backend = backend_;
  std::shared_ptr<const void> hold = backend_.retain ? backend_.retain() : nullptr;
  uint64_t id = backend_.jobs->Start("undelete", [=](JobContext& job) {
    (void)hold;
    ScratchDirGuard scratch{ScratchDir(backend.inspect_scratch_dir)};
    auto opened = OpenStoredSnapshot(*backend.service, r.name, r.storage, scratch.path, job);
    if (opened->record().datastore != "etcd") {
      throw Error::InvalidInput(r.name + " is a snapshot of " + opened->record().datastore +
                                "; undelete puts keys back into etcd");
    }
    UndeleteReport report =
        UndeleteKeys(opened->contents(), *backend.etcd_kv, r.key, r.prefix, r.name, job.cancel());
    nlohmann::json recreated = nlohmann::json::array();
    nlohmann::json skipped = nlohmann::json::array();
    for (const UndeleteOutcome& o : report.outcomes) {
      if (o.recreated) {
        recreated.push_back({{"key", o.key}, {"revision", o.revision}});
      } else {
        skipped.push_back({{"key", o.key}, {"reason", o.reason}});
      }
    }
    nlohmann::json result = {
        {"snapshot", SourceJson(*opened)}, {"recreated", recreated}, {"skipped", skipped}};
    if (!report.error.empty()) result["error"] = report.error;
    job.SetResult(std::move(result));
    if (!report.error.empty()) throw Error::Transient(report.error);
  });
  return Json(202, {{"job", JobToJson(*backend_.jobs->Get(id))}});
}

}  // namespace snapd
