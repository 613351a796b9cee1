// Which datastore snapshots are taken from, read from `datastore-endpoint` the way k3s reads its
// own: empty means k3s's embedded datastore, whichever of SQLite or etcd is on disk.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace snapd {

enum class DatastoreKind { kEtcd, kSqlite };

struct DatastoreTarget {
  DatastoreKind kind = DatastoreKind::kEtcd;
  std::string etcd_url;     // kEtcd: the client URL to read snapshots from
  std::string sqlite_path;  // kSqlite: kine's database file
  bool embedded = false;    // chosen from an empty endpoint by what is on disk
};

// "etcd" or "sqlite".
std::string_view DatastoreKindName(DatastoreKind kind);

// Resolves `endpoint` (k3s's `datastore-endpoint`):
// - "": SQLite at `<data_dir>/server/db/state.db` when that file exists and
//   `<data_dir>/server/db/etcd` does not, else etcd at `etcd_endpoint`;
// - "sqlite://PATH[?params]": that SQLite file (k3s's query parameters are ignored; an empty
//   PATH is k3s's default file); PATH must be absolute;
// - "http(s)://HOST:PORT[,...]": an external etcd, at its first URL.
// MySQL, PostgreSQL and any other scheme throw Error::InvalidInput naming the database's own
// backup tool and never the endpoint itself (it may hold a password); the caller names the key.
// `exists` says whether a path exists (injected so this stays free of I/O).
DatastoreTarget ResolveDatastore(std::string_view endpoint, const std::string& data_dir,
                                 const std::string& etcd_endpoint,
                                 const std::function<bool(const std::string&)>& exists);

}  // namespace snapd
