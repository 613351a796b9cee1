// Fuzzes etcd's native gRPC snapshot stream decoder (gRPC frames of protobuf SnapshotResponse),
// the protobuf field reader under it and the StatusResponse parser: split anywhere, a body
// decodes the same as whole.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "etcd/grpc_etcd_client.h"
#include "etcd/grpc_snapshot_decoder.h"
#include "etcd/protobuf_wire.h"
#include "fuzz_input.h"

using snapd::fuzz::Check;

namespace {

struct Outcome {
  std::optional<snapd::ErrorKind> error;
  std::string bytes;
  uint64_t database_size = 0;
};

Outcome Decode(std::string_view body, size_t piece) {
  Outcome outcome;
  snapd::fuzz::BoundedSink sink(SIZE_MAX);
  snapd::GrpcSnapshotDecoder decoder(sink);
  try {
    for (size_t pos = 0; pos < body.size(); pos += piece) decoder.Feed(body.substr(pos, piece));
    decoder.Finish();
  } catch (const snapd::Error& e) {
    outcome.error = e.kind();
  }
  outcome.bytes = std::move(sink.bytes);
  outcome.database_size = decoder.database_size();
  return outcome;
}

// Reads every field of `message`; each one lies inside it and the reader always moves on.
void ReadFields(std::string_view message) {
  snapd::ProtobufReader reader(message);
  snapd::ProtobufField field;
  size_t fields = 0;
  try {
    while (reader.Next(field)) {
      Check(field.number != 0, "field number 0 is refused");
      Check(field.wire_type <= 5 && field.wire_type != 3 && field.wire_type != 4,
            "only varint, fixed and length-delimited fields are returned");
      if (field.wire_type == 2) {
        Check(field.bytes_value.data() >= message.data() &&
                  field.bytes_value.data() + field.bytes_value.size() <=
                      message.data() + message.size(),
              "a length-delimited value lies inside the message");
      }
      Check(++fields <= message.size(), "every field takes at least one byte");
    }
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kCorrupt, "the protobuf reader only throws kCorrupt");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = snapd::fuzz::AsText(data, size);
  ReadFields(body);
  try {
    const snapd::EtcdStatus status = snapd::ParseStatusResponse(body);
    Check(status.version.size() <= body.size(), "the version is part of the message");
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kCorrupt, "a bad StatusResponse is corrupt");
  }
  const Outcome whole = Decode(body, body.size() + 1);
  const Outcome pieces = Decode(body, snapd::fuzz::PieceSizeFor(body, 64));

  Check(whole.bytes.size() <= body.size(), "decoded bytes fit in the body");
  if (!whole.error) {
    Check(whole.bytes.size() == whole.database_size + snapd::SnapshotSequence::kTrailerSize,
          "a finished stream is the announced database and its trailer");
  }
  Check(whole.error.has_value() == pieces.error.has_value(), "split and whole agree on failing");
  if (!whole.error) Check(whole.bytes == pieces.bytes, "split and whole decode the same bytes");
  return 0;
}
