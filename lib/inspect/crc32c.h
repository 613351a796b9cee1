// CRC-32C (Castagnoli), the checksum etcd's HashKV is made of: SSE4.2's crc32 instruction where
// the CPU has it, else a table (slicing by 8).
#pragma once

#include <cstdint>
#include <string_view>

namespace snapd {

// Extends `crc` (0 to start) over `data`; Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b), as Go's
// crc32.Update with the Castagnoli table.
uint32_t Crc32c(uint32_t crc, std::string_view data);

}  // namespace snapd
