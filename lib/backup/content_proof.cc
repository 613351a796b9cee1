// ProveEtcdSnapshot and ScratchSnapshotCopy.
#include "backup/content_proof.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <future>

#include "core/error.h"

namespace snapd {
namespace {

constexpr auto kHashTimeout = std::chrono::seconds(60);  // etcd hashes its whole key bucket
constexpr size_t kCopyBuffer = 1 << 20;

int64_t CompactOrZero(int64_t compact_revision) {
  return compact_revision > 0 ? compact_revision : 0;  // etcd says -1 for "never"
}

}  // namespace

ContentProof ProveEtcdSnapshot(const std::string& path, EtcdCoordinationClient& etcd) {
  ContentProof proof;
  std::unique_ptr<SnapshotContents> contents;
  int64_t revision = 0;
  try {
    contents = OpenSnapshotContents(path);
    revision = contents->revision();
  } catch (const std::exception& e) {
    proof.reason = std::string("the snapshot could not be read: ") + e.what();
    return proof;
  }
  // etcd hashes its own key bucket meanwhile: the two hashes take about as long.
  std::future<EtcdKvHash> live_hash = std::async(
      std::launch::async, [&etcd, revision] { return etcd.HashKV(revision, kHashTimeout); });
  try {
    proof.hash = contents->HashKV();
  } catch (const std::exception& e) {
    proof.reason = std::string("the snapshot's HashKV could not be computed: ") + e.what();
  }
  EtcdKvHash live;
  try {
    live = live_hash.get();
  } catch (const std::exception& e) {
    if (!proof.reason.empty()) return proof;
    const std::string what = e.what();
    proof.reason = what.find("compacted") != std::string::npos
                       ? "etcd compacted past revision " + std::to_string(revision) +
                             " before it could be asked"
                       : "etcd's HashKV could not be asked: " + what;
    return proof;
  }
  if (!proof.reason.empty()) return proof;
  if (!proof.hash) {
    proof.reason = "not an etcd snapshot";
    return proof;
  }
  if (CompactOrZero(live.compact_revision) != CompactOrZero(proof.hash->compact_revision)) {
    // Revisions etcd compacted since the snapshot count in the file but not in etcd's hash.
    proof.reason = "etcd compacted to revision " + std::to_string(live.compact_revision) +
                   " since the snapshot (compacted to " +
                   std::to_string(proof.hash->compact_revision) + ")";
    return proof;
  }
  if (live.hash != proof.hash->hash) {
    throw Error::Corrupt("the snapshot's HashKV at revision " + std::to_string(revision) + " is " +
                         std::to_string(proof.hash->hash) + " but etcd's is " +
                         std::to_string(live.hash) + ": it does not hold the cluster's key space");
  }
  proof.verified = true;
  return proof;
}

ScratchSnapshotCopy::ScratchSnapshotCopy(ByteSink& next, std::string path)
    : next_(next), path_(std::move(path)) {
  ::unlink(path_.c_str());  // a copy a killed daemon left
  fd_.Reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd_.get() < 0) {
    error_ = "create " + path_ + ": " + std::strerror(errno);
    return;
  }
  buffer_.reserve(kCopyBuffer);
}

ScratchSnapshotCopy::~ScratchSnapshotCopy() {
  fd_.Reset();
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("could not remove {}: {}", path_, std::strerror(errno));
  }
}

void ScratchSnapshotCopy::Write(std::string_view chunk) {
  next_.Write(chunk);
  if (!error_.empty()) return;
  try {
    Copy(chunk);
  } catch (const std::exception& e) {
    error_ = e.what();
    buffer_ = std::string();
    fd_.Reset();
    ::unlink(path_.c_str());
  }
}

void ScratchSnapshotCopy::Copy(std::string_view chunk) {
  if (buffer_.size() + chunk.size() > kCopyBuffer) {
    WriteAll(fd_.get(), buffer_, path_);
    buffer_.clear();
  }
  if (chunk.size() >= kCopyBuffer) {
    WriteAll(fd_.get(), chunk, path_);
  } else {
    buffer_.append(chunk);
  }
}

std::string ScratchSnapshotCopy::Finish() {
  if (error_.empty()) {
    try {
      WriteAll(fd_.get(), buffer_, path_);
    } catch (const std::exception& e) {
      error_ = e.what();
    }
    buffer_ = std::string();
  }
  return error_.empty() ? path_ : "";
}

}  // namespace snapd
