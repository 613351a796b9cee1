// The proof at save time that an etcd snapshot holds the key space the cluster had: etcd's
// HashKV of the snapshot file at its revision, computed here and asked of etcd at the same
// revision. A SHA-256 trailer proves the file is what etcd sent; this proves what it holds.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/byte_sink.h"
#include "core/file_descriptor.h"
#include "etcd/etcd_client.h"
#include "inspect/snapshot_contents.h"

namespace snapd {

struct ContentProof {
  bool verified = false;
  std::string reason;          // why not verified
  std::optional<KvHash> hash;  // the snapshot's HashKV, when it could be computed
};

// Reads the plain etcd snapshot at `path` and compares its HashKV with etcd's. Throws
// Error::Corrupt naming both hashes when they differ; any other failure (etcd compacted past the
// revision, cannot be asked, the file cannot be read) is an unverified proof with its reason.
ContentProof ProveEtcdSnapshot(const std::string& path, EtcdCoordinationClient& etcd);

// A private copy of the plain snapshot stream, for the proof when no store keeps a plain file
// (compressed, encrypted or S3-only saves), passing every chunk on to `next`. Its own failure (a
// full state directory) never fails the save: the copy stops and error() says why. Removed
// when destroyed.
class ScratchSnapshotCopy final : public ByteSink {
 public:
  ScratchSnapshotCopy(ByteSink& next, std::string path);
  ~ScratchSnapshotCopy() override;
  void Write(std::string_view chunk) override;
  // Writes out what is buffered; returns the path to read, or "" when the copy failed.
  std::string Finish();
  const std::string& error() const { return error_; }

 private:
  void Copy(std::string_view chunk);
  ByteSink& next_;
  std::string path_;
  FileDescriptor fd_;
  std::string buffer_;
  std::string error_;
};

}  // namespace snapd
