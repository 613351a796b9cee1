// Unit tests of ResolveDatastore: k3s's reading of datastore-endpoint.
#include "datastore/datastore_endpoint.h"

#include <catch2/catch.hpp>
#include <set>

#include "core/error.h"

namespace snapd {
namespace {

using Catch::Matchers::Contains;

const std::string kDataDir = "/var/lib/rancher/k3s";
const std::string kEtcd = "https://127.0.0.1:2379";

struct Disk {
  std::set<std::string> paths;
  std::function<bool(const std::string&)> Exists() const {
    return [this](const std::string& p) { return paths.contains(p); };
  }
};

DatastoreTarget Resolve(std::string_view endpoint, const Disk& disk) {
  return ResolveDatastore(endpoint, kDataDir, kEtcd, disk.Exists());
}

std::string ErrorOf(std::string_view endpoint) {
  try {
    Resolve(endpoint, Disk{});
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    return e.what();
  }
  FAIL("no error for " << endpoint);
  return "";
}

TEST_CASE("an empty endpoint picks SQLite only where state.db is there and etcd is not",
          "[datastore]") {
  const std::string state_db = kDataDir + "/server/db/state.db";
  const std::string etcd_dir = kDataDir + "/server/db/etcd";

  DatastoreTarget sqlite = Resolve("", Disk{{state_db}});
  CHECK(sqlite.kind == DatastoreKind::kSqlite);
  CHECK(sqlite.sqlite_path == state_db);
  CHECK(sqlite.embedded);
  CHECK(DatastoreKindName(sqlite.kind) == "sqlite");

  // A server converted to etcd (k3s keeps the old state.db as a leftover) and a plain etcd host.
  for (const Disk& disk : {Disk{{state_db, etcd_dir}}, Disk{{etcd_dir}}, Disk{}}) {
    DatastoreTarget etcd = Resolve("", disk);
    CHECK(etcd.kind == DatastoreKind::kEtcd);
    CHECK(etcd.etcd_url == kEtcd);
    CHECK(etcd.embedded);
    CHECK(DatastoreKindName(etcd.kind) == "etcd");
  }
}

TEST_CASE("sqlite:// names the file, k3s's query parameters ignored", "[datastore]") {
  DatastoreTarget t = Resolve("sqlite:///srv/k3s/state.db?_journal=WAL&cache=shared", Disk{});
  CHECK(t.kind == DatastoreKind::kSqlite);
  CHECK(t.sqlite_path == "/srv/k3s/state.db");
  CHECK_FALSE(t.embedded);
  CHECK(Resolve("sqlite://", Disk{}).sqlite_path == kDataDir + "/server/db/state.db");
  CHECK(Resolve("sqlite://?_journal=WAL", Disk{}).sqlite_path == kDataDir + "/server/db/state.db");
  CHECK_THAT(ErrorOf("sqlite://db/state.db"), Contains("db/state.db is not absolute"));
}

TEST_CASE("http(s):// is an external etcd at its first URL", "[datastore]") {
  DatastoreTarget t = Resolve("https://10.0.0.1:2379,https://10.0.0.2:2379", Disk{});
  CHECK(t.kind == DatastoreKind::kEtcd);
  CHECK(t.etcd_url == "https://10.0.0.1:2379");
  CHECK_FALSE(t.embedded);
  CHECK(Resolve("http://127.0.0.1:2379", Disk{}).etcd_url == "http://127.0.0.1:2379");
}

TEST_CASE("MySQL and PostgreSQL are refused naming their dump tool, never the password",
          "[datastore]") {
  std::string mysql = ErrorOf("mysql://k3s:hunter2@tcp(db.example:3306)/k3s");
  CHECK_THAT(mysql, Contains("mysqldump"));
  CHECK_THAT(mysql, !Contains("hunter2"));
  for (const char* endpoint :
       {"postgres://k3s:hunter2@db:5432/k3s", "postgresql://k3s:hunter2@db/k3s"}) {
    std::string pg = ErrorOf(endpoint);
    CHECK_THAT(pg, Contains("pg_dump"));
    CHECK_THAT(pg, !Contains("hunter2"));
  }
  std::string nats = ErrorOf("nats://user:hunter2@nats:4222");
  CHECK_THAT(nats, Contains("unsupported scheme \"nats\""));
  CHECK_THAT(nats, !Contains("hunter2"));
  CHECK_THAT(ErrorOf("state.db"), Contains("unsupported scheme \"(none)\""));
}

}  // namespace
}  // namespace snapd
