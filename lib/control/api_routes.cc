// The route table and path splitting of the control API.
#include "control/api_routes.h"

#include <charconv>

#include "core/error.h"

namespace snapd {
namespace {

struct RouteEntry {
  std::string_view pattern;  // "/"-separated segments; "*" matches any one segment
  std::string_view method;
  ApiOperation operation;
};

// A path's methods are listed together: 405 answers name them in this order.
constexpr RouteEntry kRoutes[] = {
    {"healthz", "GET", ApiOperation::kHealth},
    {"metrics", "GET", ApiOperation::kMetrics},
    {"v1/status", "GET", ApiOperation::kStatus},
    {"v1/snapshots", "GET", ApiOperation::kListSnapshots},
    {"v1/snapshots", "POST", ApiOperation::kSave},
    {"v1/snapshots/*", "DELETE", ApiOperation::kDelete},
    {"v1/jobs/*", "GET", ApiOperation::kGetJob},
    {"v1/jobs/*", "DELETE", ApiOperation::kCancelJob},
    {"v1/verify", "POST", ApiOperation::kVerify},
    {"v1/restore", "POST", ApiOperation::kRestore},
    {"v1/prune", "POST", ApiOperation::kPrune},
    {"v1/inspect", "POST", ApiOperation::kInspect},
    {"v1/get", "POST", ApiOperation::kGetKeys},
    {"v1/diff", "POST", ApiOperation::kDiff},
    {"v1/undelete", "POST", ApiOperation::kUndelete},
    // Many at once (S3 deletes them in a few requests); judged as a delete.
    {"v1/delete", "POST", ApiOperation::kDelete},
};

bool Matches(std::string_view pattern, const std::vector<std::string>& path) {
  size_t i = 0;
  for (;; ++i) {
    size_t slash = pattern.find('/');
    std::string_view want = pattern.substr(0, slash);
    if (i >= path.size() || (want != "*" && want != path[i])) return false;
    if (slash == std::string_view::npos) break;
    pattern.remove_prefix(slash + 1);
  }
  return i + 1 == path.size();
}

std::string PercentDecode(std::string_view raw) {
  std::string decoded;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      decoded.push_back(raw[i]);
      continue;
    }
    unsigned value = 0;  // unsigned: from_chars then refuses a sign
    const char* digits = raw.data() + i + 1;
    if (i + 2 >= raw.size() || std::from_chars(digits, digits + 2, value, 16).ptr != digits + 2) {
      throw Error::InvalidInput("bad percent-encoding in request path");
    }
    decoded.push_back(static_cast<char>(value));
    i += 2;
  }
  return decoded;
}

std::vector<std::string> PathSegments(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> segments;
  size_t pos = 0;
  while (pos < target.size()) {
    size_t slash = target.find('/', pos);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view raw = target.substr(pos, slash - pos);
    if (!raw.empty()) segments.push_back(PercentDecode(raw));
    pos = slash + 1;
  }
  return segments;
}

}  // namespace

ApiRoute MatchRoute(std::string_view method, std::string_view target) {
  ApiRoute route;
  route.path = PathSegments(target);
  for (const RouteEntry& entry : kRoutes) {
    if (!Matches(entry.pattern, route.path)) continue;
    if (entry.method == method) {
      route.operation = entry.operation;
      route.allowed_methods.clear();
      return route;
    }
    route.operation = ApiOperation::kWrongMethod;
    if (!route.allowed_methods.empty()) route.allowed_methods += " or ";
    route.allowed_methods += entry.method;
  }
  return route;
}

std::string_view OperationName(ApiOperation operation) {
  switch (operation) {
    case ApiOperation::kHealth:
      return "health";
    case ApiOperation::kMetrics:
      return "metrics";
    case ApiOperation::kStatus:
      return "status";
    case ApiOperation::kListSnapshots:
      return "list";
    case ApiOperation::kGetJob:
      return "job";
    case ApiOperation::kVerify:
      return "verify";
    case ApiOperation::kSave:
      return "save";
    case ApiOperation::kDelete:
      return "delete";
    case ApiOperation::kPrune:
      return "prune";
    case ApiOperation::kRestore:
      return "restore";
    case ApiOperation::kCancelJob:
      return "cancel";
    case ApiOperation::kInspect:
      return "inspect";
    case ApiOperation::kGetKeys:
      return "get";
    case ApiOperation::kDiff:
      return "diff";
    case ApiOperation::kUndelete:
      return "undelete";
    case ApiOperation::kWrongMethod:
    case ApiOperation::kNoSuchPath:
      return "";
  }
  return "";
}

bool ChangesState(ApiOperation operation) {
  switch (operation) {
    case ApiOperation::kSave:
    case ApiOperation::kDelete:
    case ApiOperation::kPrune:
    case ApiOperation::kRestore:
    case ApiOperation::kCancelJob:
    case ApiOperation::kUndelete:
    case ApiOperation::kGetKeys:
      return true;
    case ApiOperation::kHealth:
    case ApiOperation::kMetrics:
    case ApiOperation::kStatus:
    case ApiOperation::kListSnapshots:
    case ApiOperation::kGetJob:
    case ApiOperation::kVerify:
    case ApiOperation::kInspect:
    case ApiOperation::kDiff:
    case ApiOperation::kWrongMethod:
    case ApiOperation::kNoSuchPath:
      return false;
  }
  return true;  // not reached; an unknown operation is treated as the stricter kind
}

}  // namespace snapd
