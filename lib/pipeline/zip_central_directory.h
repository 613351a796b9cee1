// Reads the end of a one-entry zip (central directory and end records) the way Go's
// archive/zip finds its entries, so a snapshot zip that k3s could not restore is refused even
// when its entry streamed out intact.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace snapd {

// The one entry as the central directory describes it (zip64 sizes resolved).
struct ZipCentralEntry {
  std::string name;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

// `tail`: the last bytes of the archive; `archive_size`: the length of the whole archive.
// Throws Error::Corrupt when there is no valid end record, the directory does not lie right
// before it, is not within `tail`, or does not hold exactly one entry.
ZipCentralEntry ReadSingleCentralEntry(std::string_view tail, uint64_t archive_size);

}  // namespace snapd
