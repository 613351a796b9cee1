// WatchResponse stream decoding over GrpcFrameReader and etcdpb::ParseWatchResponse.
#include "etcd/grpc_watch_decoder.h"

#include <string>

#include "core/error.h"
#include "etcd/grpc_messages.h"

namespace snapd {

void GrpcWatchDecoder::Feed(std::string_view bytes) {
  frames_.Feed(bytes, [this](std::string_view message) { HandleMessage(message); });
}

void GrpcWatchDecoder::HandleMessage(std::string_view message) {
  etcdpb::WatchResponse response = etcdpb::ParseWatchResponse(message);
  const std::string from = "watch from revision " + std::to_string(start_revision_);
  if (response.compact_revision != 0) {
    throw Error::Permanent(from + ": etcd compacted to revision " +
                           std::to_string(response.compact_revision));
  }
  if (response.canceled) {
    const std::string reason = response.cancel_reason.substr(0, 300);
    throw Error::Permanent(from +
                           ": etcd cancelled it: " + (reason.empty() ? "(no reason)" : reason));
  }
  // We never ask for fragments; pieces of a revision must not be replayed as a whole one.
  if (response.fragment) throw Error::Corrupt(from + ": etcd sent a fragment (none was asked)");
  if (response.events.empty()) return;  // `created`, or a progress notification
  on_response_(EtcdWatchResponse{response.header_revision, std::move(response.events)});
}

}  // namespace snapd
