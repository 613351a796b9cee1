// Fuzzes the k3s snapshot zip reader (libarchive's streaming reader plus our central directory
// check) on any archive: errors are snapd::Error, and how the archive arrives changes nothing.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "decoder_outcome.h"
#include "pipeline/zip_central_directory.h"
#include "pipeline/zip_decompress_source.h"

using snapd::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view archive = snapd::fuzz::AsText(data, size);
  auto make = [](snapd::ByteSource& source) {
    return std::make_unique<snapd::ZipDecompressSource>(source);
  };
  const auto whole = snapd::fuzz::DecodeAll(archive, archive.size() + 1, 256 << 10, make);
  const auto pieces =
      snapd::fuzz::DecodeAll(archive, snapd::fuzz::PieceSizeFor(archive), 1000, make);
  snapd::fuzz::CheckSameOutcome(whole, pieces);
  if (whole.error) {
    Check(*whole.error == snapd::ErrorKind::kCorrupt, "a bad zip is corrupt");
  }

  // The central directory reader on its own, over the whole input as the archive's tail.
  try {
    (void)snapd::ReadSingleCentralEntry(archive, archive.size());
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kCorrupt, "a bad central directory is corrupt");
  }
  return 0;
}
