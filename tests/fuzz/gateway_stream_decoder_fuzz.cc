// Fuzzes the etcd gRPC-gateway snapshot stream decoder: any body, split anywhere, decodes to the
// same bytes or fails with snapd::Error the same way as when it arrives whole.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "etcd/gateway_stream_decoder.h"
#include "fuzz_input.h"

using snapd::fuzz::Check;

namespace {

struct Outcome {
  std::optional<snapd::ErrorKind> error;
  std::string bytes;
  uint64_t database_size = 0;
  uint64_t bytes_decoded = 0;
};

Outcome Decode(std::string_view body, size_t piece) {
  Outcome outcome;
  snapd::fuzz::BoundedSink sink(SIZE_MAX);
  snapd::GatewayStreamDecoder decoder(sink);
  try {
    for (size_t pos = 0; pos < body.size(); pos += piece) decoder.Feed(body.substr(pos, piece));
    decoder.Finish();
  } catch (const snapd::Error& e) {
    outcome.error = e.kind();
  }
  outcome.bytes = std::move(sink.bytes);
  outcome.database_size = decoder.database_size();
  outcome.bytes_decoded = decoder.bytes_decoded();
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = snapd::fuzz::AsText(data, size);
  const Outcome whole = Decode(body, body.size() + 1);
  const Outcome pieces = Decode(body, snapd::fuzz::PieceSizeFor(body, 64));

  // Base64 only shrinks: the output can never outgrow the body.
  Check(whole.bytes.size() <= body.size(), "decoded bytes fit in the body");
  if (!whole.error) {
    Check(whole.bytes.size() == whole.bytes_decoded, "every decoded byte is counted");
    Check(whole.bytes.size() == whole.database_size + snapd::GatewayStreamDecoder::kTrailerSize,
          "a finished stream is the announced database and its trailer");
  }
  // Where the body is split must not matter (a cut between pieces is no cut of the stream).
  Check(whole.error.has_value() == pieces.error.has_value(), "split and whole agree on failing");
  if (!whole.error) Check(whole.bytes == pieces.bytes, "split and whole decode the same bytes");
  return 0;
}
