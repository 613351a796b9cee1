// ResolveDatastore: k3s's reading of datastore-endpoint.
#include "datastore/datastore_endpoint.h"

#include "core/error.h"

namespace snapd {
namespace {

constexpr std::string_view kSqliteScheme = "sqlite://";

std::string SchemeOf(std::string_view endpoint) {
  const size_t colon = endpoint.find("://");
  return colon == std::string_view::npos ? "" : std::string(endpoint.substr(0, colon));
}

}  // namespace

std::string_view DatastoreKindName(DatastoreKind kind) {
  return kind == DatastoreKind::kSqlite ? "sqlite" : "etcd";
}

DatastoreTarget ResolveDatastore(std::string_view endpoint, const std::string& data_dir,
                                 const std::string& etcd_endpoint,
                                 const std::function<bool(const std::string&)>& exists) {
  const std::string db_dir = data_dir + "/server/db";
  const std::string default_sqlite = db_dir + "/state.db";
  DatastoreTarget target;
  if (endpoint.empty()) {
    target.embedded = true;
    if (exists(default_sqlite) && !exists(db_dir + "/etcd")) {
      target.kind = DatastoreKind::kSqlite;
      target.sqlite_path = default_sqlite;
    } else {
      target.etcd_url = etcd_endpoint;
    }
    return target;
  }
  if (endpoint.starts_with(kSqliteScheme)) {
    std::string_view path = endpoint.substr(kSqliteScheme.size());
    path = path.substr(0, path.find('?'));
    target.kind = DatastoreKind::kSqlite;
    target.sqlite_path = path.empty() ? default_sqlite : std::string(path);
    if (!target.sqlite_path.starts_with('/')) {
      throw Error::InvalidInput("the SQLite path " + target.sqlite_path + " is not absolute");
    }
    return target;
  }
  const std::string scheme = SchemeOf(endpoint);
  if (scheme == "http" || scheme == "https") {
    target.etcd_url = std::string(endpoint.substr(0, endpoint.find(',')));
    return target;
  }
  if (scheme == "mysql") {
    throw Error::InvalidInput(
        "MySQL is not backed up by k3s-snapd; use mysqldump (or your "
        "database service's backups)");
  }
  if (scheme == "postgres" || scheme == "postgresql") {
    throw Error::InvalidInput(
        "PostgreSQL is not backed up by k3s-snapd; use pg_dump (or your "
        "database service's backups)");
  }
  throw Error::InvalidInput("unsupported scheme \"" +
                            (scheme.empty() ? std::string("(none)") : scheme) +
                            "\"; expected sqlite://, http:// or https://");
}

}  // namespace snapd
