// k3s's SQLite database (kine's state.db) as a Datastore: one consistent copy of the live file
// into a private temp file, then streamed from there like an etcd snapshot.
#pragma once

#include <string>

#include "datastore/datastore.h"

namespace snapd {

class SqliteDatastore final : public Datastore {
 public:
  // `db_path`: kine's database; `temp_dir`: a private directory (the daemon's state-dir) with
  // room for one copy of it.
  SqliteDatastore(std::string db_path, std::string temp_dir);

  std::string_view Kind() const override { return "sqlite"; }
  std::string Location() const override { return db_path_; }
  // Removes the copy a killed daemon left in temp_dir.
  void Prepare() override;
  DatastoreSnapshot Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                             const std::function<void(uint64_t)>& on_size) override;

 private:
  std::string db_path_;
  std::string temp_dir_;
};

}  // namespace snapd
