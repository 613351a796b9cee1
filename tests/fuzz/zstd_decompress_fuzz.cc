// Fuzzes the zstd snapshot reader on any stream: errors are snapd::Error, memory stays bounded
// (the window limit), and how the stream arrives and is read changes nothing.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "decoder_outcome.h"
#include "pipeline/zstd_decompress_source.h"

using snapd::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view stream = snapd::fuzz::AsText(data, size);
  auto make = [](snapd::ByteSource& source) {
    return std::make_unique<snapd::ZstdDecompressSource>(source);
  };
  const auto whole = snapd::fuzz::DecodeAll(stream, stream.size() + 1, 256 << 10, make);
  const auto pieces = snapd::fuzz::DecodeAll(stream, snapd::fuzz::PieceSizeFor(stream), 777, make);
  snapd::fuzz::CheckSameOutcome(whole, pieces);
  if (whole.error) Check(*whole.error == snapd::ErrorKind::kCorrupt, "bad zstd is corrupt");
  return 0;
}
