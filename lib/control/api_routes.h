// The control API's route table: which operation a method and path ask for. The router
// dispatches on it and the access policy judges it, so the two never disagree about a request.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace snapd {

enum class ApiOperation {
  // Reading: nothing on disk, in S3 or in etcd changes.
  kHealth,         // GET /healthz
  kMetrics,        // GET /metrics
  kStatus,         // GET /v1/status
  kListSnapshots,  // GET /v1/snapshots
  kGetJob,         // GET /v1/jobs/{id}
  kVerify,         // POST /v1/verify: starts a job, but only reads snapshots back
  kInspect,        // POST /v1/inspect: a job reading what a snapshot holds (keys, sizes)
  kDiff,           // POST /v1/diff: a job comparing two snapshots' keys
  // Reading values that may be secrets: only root (or the daemon's user) may, as for changes.
  kGetKeys,  // POST /v1/get: a job reading keys' values from a snapshot
  // Changing snapshots or what a restore leaves behind.
  kSave,       // POST /v1/snapshots
  kDelete,     // DELETE /v1/snapshots/{name}, POST /v1/delete
  kPrune,      // POST /v1/prune
  kRestore,    // POST /v1/restore
  kCancelJob,  // DELETE /v1/jobs/{id}: stops a running job (a save may be the schedule's)
  kUndelete,   // POST /v1/undelete: puts a snapshot's keys back into etcd where they are absent
  // No operation: answered 405 and 404 without doing anything.
  kWrongMethod,
  kNoSuchPath,
};

struct ApiRoute {
  ApiOperation operation = ApiOperation::kNoSuchPath;
  std::vector<std::string> path;  // the target's path segments, percent-decoded
  std::string allowed_methods;    // for kWrongMethod: "GET", "GET or POST", ...
};

// Matches "/v1/snapshots/x?y" (empty segments are skipped, the query ignored). Throws
// Error::InvalidInput for bad percent-encoding in the path.
ApiRoute MatchRoute(std::string_view method, std::string_view target);

// The operation as messages name it: "save", "delete", "list", ...; "" for kWrongMethod and
// kNoSuchPath.
std::string_view OperationName(ApiOperation operation);

// Save, delete, prune, restore, cancel, undelete, and get (it reads values, Secrets too): what
// only root may do unless configured otherwise.
bool ChangesState(ApiOperation operation);

}  // namespace snapd
