// Incremental decoder of etcd's gRPC watch stream (Watch/Watch over HTTP/2): WatchResponse
// messages as they arrive, those with events handed on, a compaction or cancel turned into an
// error. Pure: bytes in, responses out.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

#include "etcd/etcd_watch.h"
#include "etcd/grpc_snapshot_decoder.h"

namespace snapd {

class GrpcWatchDecoder {
 public:
  // One response carries up to 1000 revisions (etcd's watchBatchMaxRevs) while catching up, each
  // up to etcd's 1.5 MiB request limit: far over the snapshot's 16 MiB per message.
  static constexpr size_t kMaxMessageSize = size_t{1} << 30;

  GrpcWatchDecoder(int64_t start_revision, std::function<void(EtcdWatchResponse&&)> on_response)
      : start_revision_(start_revision), on_response_(std::move(on_response)) {}

  // Calls on_response for each whole response with events (not the `created` one). Throws
  // Error::Permanent "watch from revision S: etcd compacted to revision C" on a compaction,
  // Error::Permanent naming etcd's reason on another cancel, Error::Corrupt for a message it
  // cannot read; on_response's exceptions pass through.
  void Feed(std::string_view bytes);

 private:
  void HandleMessage(std::string_view message);
  int64_t start_revision_;
  std::function<void(EtcdWatchResponse&&)> on_response_;
  GrpcFrameReader frames_{kMaxMessageSize};
};

}  // namespace snapd
