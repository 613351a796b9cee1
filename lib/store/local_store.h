// Snapshots as files in the snapshot dir, laid out as k3s lays them out: `<dir>/<name>` (0600,
// dir 0700) with the record in `<dir>/../.metadata/<name>`, and the increments beside the
// records (k3s walks only the snapshot dir). Durable by `.part` → fsync →
// rename (never replacing) → fsync dir; symlinks in the dir are never followed.
#pragma once

#include <string>

#include "store/journal_dir.h"
#include "store/snapshot_store.h"

namespace snapd {

class LocalStore final : public SnapshotStore {
 public:
  // `node_name` is the node recorded for files without a record (made by k3s on this node).
  // `part_journal` (in the state dir; null for none) notes each `.part` this process writes
  // until it is renamed or removed, so that RemoveIncomplete knows the ones a crash left as
  // ours and removes them without the grace period. Must outlive the store.
  LocalStore(std::string dir, std::string node_name, JournalDir* part_journal = nullptr);

  // Creates the snapshot and metadata dirs (0700) if missing. Throws naming the path.
  void Prepare();

  std::string_view Kind() const override { return "local"; }
  std::unique_ptr<SnapshotWriter> Create(const std::string& name) override;
  std::vector<SnapshotRecord> List() override;
  std::unique_ptr<ByteSource> Open(const std::string& name) override;
  void Remove(const std::string& name) override;
  // One by one, but the directory is synced once for all of them.
  std::vector<RemoveFailure> RemoveMany(const std::vector<std::string>& names) override;
  // Increments are files in the metadata dir, written as records are (temp, fsync, rename,
  // fsync dir).
  void PutIncrement(const std::string& name, std::string_view bytes) override;
  std::vector<std::string> ListIncrements() override;  // sorted
  std::string ReadIncrement(const std::string& name) override;
  std::vector<RemoveFailure> RemoveIncrements(const std::vector<std::string>& names) override;
  std::string ReadTokenBackup(const std::string& name) override;
  // Removes the `.part` files of this daemon's saves that an earlier process left (at once),
  // other `.part` files no writer holds and untouched for kPartGraceSeconds, and records left
  // without their snapshot.
  int RemoveIncomplete() override;

  const std::string& dir() const { return dir_; }
  std::string PathOf(const std::string& name) const { return dir_ + "/" + name; }
  std::string MetadataPathOf(const std::string& name) const { return metadata_dir_ + "/" + name; }

  // A `.part` file untouched this long, and locked by no writer, is a leftover of a save that
  // died. The grace period spares a `.part` that a k3s on-demand save may be writing.
  static constexpr int kPartGraceSeconds = 10;

 private:
  // Remove without syncing the directory.
  void RemoveUnsynced(const std::string& name);
  // The increments in the metadata dir that continue one of `snapshots`.
  std::vector<std::string> IncrementsOf(const std::vector<std::string>& snapshots);
  std::string dir_;
  std::string metadata_dir_;
  std::string node_name_;
  JournalDir* part_journal_;
};

}  // namespace snapd
