// gRPC framing and SnapshotResponse decoding.
#include "etcd/grpc_snapshot_decoder.h"

#include "core/error.h"
#include "etcd/protobuf_wire.h"

namespace snapd {

size_t GrpcFrameReader::MessageSize(std::string_view header) const {
  if (header[0] != 0) {
    throw Error::Corrupt("etcd gRPC stream: compressed message (none was asked for)");
  }
  const size_t size = (static_cast<size_t>(static_cast<uint8_t>(header[1])) << 24) |
                      (static_cast<size_t>(static_cast<uint8_t>(header[2])) << 16) |
                      (static_cast<size_t>(static_cast<uint8_t>(header[3])) << 8) |
                      static_cast<size_t>(static_cast<uint8_t>(header[4]));
  if (size > max_message_size_) {
    throw Error::Corrupt("etcd gRPC stream: message of " + std::to_string(size) +
                         " bytes is over the " + std::to_string(max_message_size_) + " limit");
  }
  return size;
}

void GrpcSnapshotDecoder::Feed(std::string_view bytes) {
  frames_.Feed(bytes, [this](std::string_view message) { HandleMessage(message); });
}

void GrpcSnapshotDecoder::HandleMessage(std::string_view message) {
  uint64_t remaining = 0;
  std::string_view blob;
  ProtobufReader reader(message);
  ProtobufField field;
  while (reader.Next(field)) {
    if (field.number == 2 && field.wire_type == 0) remaining = field.number_value;
    if (field.number == 3 && field.wire_type == 2) blob = field.bytes_value;
  }
  sequence_.Accept(remaining, blob);
}

void GrpcSnapshotDecoder::Finish() {
  if (!frames_.AtBoundary()) {
    throw Error::Transient("etcd snapshot stream: cut inside a message after " +
                           std::to_string(sequence_.bytes_decoded()) + " of " +
                           std::to_string(sequence_.database_size()) + " bytes");
  }
  sequence_.Finish();
}

}  // namespace snapd
