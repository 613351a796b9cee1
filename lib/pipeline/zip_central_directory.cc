// Central directory reading for ZipDecompressSource: the end-of-central-directory record, the
// zip64 end record when a field overflows, and the single file header. Layouts: PKWARE APPNOTE
// 4.3.12, 4.3.14-16, 4.5.3.
#include "pipeline/zip_central_directory.h"

#include <cstring>

#include "core/error.h"

namespace snapd {
namespace {

constexpr size_t kEndRecordSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EndRecordSize = 56;
constexpr size_t kFileHeaderSize = 46;
constexpr uint16_t kZip64ExtraId = 0x0001;

uint16_t Le16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(s[at]) |
                               static_cast<unsigned char>(s[at + 1]) << 8);
}

uint32_t Le32(std::string_view s, size_t at) {
  return static_cast<uint32_t>(Le16(s, at)) | static_cast<uint32_t>(Le16(s, at + 2)) << 16;
}

uint64_t Le64(std::string_view s, size_t at) {
  return static_cast<uint64_t>(Le32(s, at)) | static_cast<uint64_t>(Le32(s, at + 4)) << 32;
}

bool HasSignature(std::string_view s, size_t at, const char (&signature)[5]) {
  return at + 4 <= s.size() && std::memcmp(s.data() + at, signature, 4) == 0;
}

// The last "PK\5\6" whose record and comment fit before the end, as Go's reader picks it.
size_t FindEndRecord(std::string_view tail) {
  if (tail.size() < kEndRecordSize) {
    throw Error::Corrupt("zip: no end of central directory record (archive truncated?)");
  }
  for (size_t i = tail.size() - kEndRecordSize + 1; i-- > 0;) {
    if (HasSignature(tail, i, "PK\5\6") && i + kEndRecordSize + Le16(tail, i + 20) <= tail.size()) {
      return i;
    }
    if (tail.size() - i > kEndRecordSize + 0xFFFF) break;
  }
  throw Error::Corrupt("zip: no end of central directory record (archive truncated?)");
}

struct DirectoryLocation {
  uint64_t entries = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
  uint64_t end = 0;  // where the records after the directory start
};

DirectoryLocation ReadEndRecords(std::string_view tail, uint64_t tail_start) {
  const size_t end_at = FindEndRecord(tail);
  if (Le16(tail, end_at + 4) != 0 || Le16(tail, end_at + 6) != 0 ||
      Le16(tail, end_at + 8) != Le16(tail, end_at + 10)) {
    throw Error::Corrupt("zip: end record describes a multi-disk archive");
  }
  DirectoryLocation dir{Le16(tail, end_at + 10), Le32(tail, end_at + 12), Le32(tail, end_at + 16),
                        tail_start + end_at};
  if (dir.entries != 0xFFFF && dir.size != 0xFFFFFFFF && dir.offset != 0xFFFFFFFF) return dir;

  if (end_at < kZip64LocatorSize || !HasSignature(tail, end_at - kZip64LocatorSize, "PK\6\7")) {
    throw Error::Corrupt("zip: end record needs zip64 but has no zip64 locator");
  }
  const size_t locator_at = end_at - kZip64LocatorSize;
  const uint64_t record_offset = Le64(tail, locator_at + 8);
  if (record_offset < tail_start || record_offset - tail_start + kZip64EndRecordSize > locator_at) {
    throw Error::Corrupt("zip: zip64 end record is out of place");
  }
  const size_t record_at = static_cast<size_t>(record_offset - tail_start);
  if (!HasSignature(tail, record_at, "PK\6\6")) {
    throw Error::Corrupt("zip: zip64 end record signature missing");
  }
  if (Le32(tail, record_at + 16) != 0 || Le32(tail, record_at + 20) != 0 ||
      Le64(tail, record_at + 24) != Le64(tail, record_at + 32)) {
    throw Error::Corrupt("zip: zip64 end record describes a multi-disk archive");
  }
  return {Le64(tail, record_at + 32), Le64(tail, record_at + 40), Le64(tail, record_at + 48),
          record_offset};
}

// Replaces the 32-bit fields that read all ones with the zip64 extra field's values.
void ApplyZip64Extra(std::string_view extra, ZipCentralEntry& entry) {
  bool need_uncompressed = entry.uncompressed_size == 0xFFFFFFFF;
  bool need_compressed = entry.compressed_size == 0xFFFFFFFF;
  bool need_offset = entry.local_header_offset == 0xFFFFFFFF;
  for (size_t at = 0; at + 4 <= extra.size();) {
    const uint16_t id = Le16(extra, at);
    const size_t length = Le16(extra, at + 2);
    if (at + 4 + length > extra.size()) {
      throw Error::Corrupt("zip: central directory extra field overruns its header");
    }
    if (id == kZip64ExtraId) {
      std::string_view field = extra.substr(at + 4, length);
      size_t next = 0;
      for (auto [needed, value] : {std::pair{&need_uncompressed, &entry.uncompressed_size},
                                   std::pair{&need_compressed, &entry.compressed_size},
                                   std::pair{&need_offset, &entry.local_header_offset}}) {
        if (!*needed) continue;
        if (next + 8 > field.size()) {
          throw Error::Corrupt("zip: zip64 extra field of the central directory is too short");
        }
        *value = Le64(field, next);
        next += 8;
        *needed = false;
      }
    }
    at += 4 + length;
  }
  // Like Go's reader: an uncompressed size of exactly 2^32-1 may be genuine, the others not.
  if (need_compressed || need_offset) {
    throw Error::Corrupt("zip: central directory needs zip64 sizes but has none");
  }
}

}  // namespace

ZipCentralEntry ReadSingleCentralEntry(std::string_view tail, uint64_t archive_size) {
  if (tail.size() > archive_size) {
    throw Error::InvalidInput("zip: tail longer than the archive");
  }
  const uint64_t tail_start = archive_size - tail.size();
  const DirectoryLocation dir = ReadEndRecords(tail, tail_start);
  if (dir.entries != 1) {
    throw Error::Corrupt("zip: central directory lists " + std::to_string(dir.entries) +
                         " entries, expected 1");
  }
  if (dir.offset > dir.end || dir.end - dir.offset != dir.size) {
    throw Error::Corrupt("zip: central directory does not end where the end record starts");
  }
  if (dir.offset < tail_start) {
    throw Error::Corrupt("zip: central directory of " + std::to_string(dir.size) +
                         " bytes is too large for a single entry");
  }
  const std::string_view header =
      tail.substr(static_cast<size_t>(dir.offset - tail_start), static_cast<size_t>(dir.size));
  if (header.size() < kFileHeaderSize || !HasSignature(header, 0, "PK\1\2")) {
    throw Error::Corrupt("zip: central directory file header signature missing");
  }
  const size_t name_length = Le16(header, 28);
  const size_t extra_length = Le16(header, 30);
  const size_t comment_length = Le16(header, 32);
  if (kFileHeaderSize + name_length + extra_length + comment_length != header.size()) {
    throw Error::Corrupt("zip: central directory file header does not fill the directory");
  }
  ZipCentralEntry entry;
  entry.name = std::string(header.substr(kFileHeaderSize, name_length));
  entry.crc32 = Le32(header, 16);
  entry.compressed_size = Le32(header, 20);
  entry.uncompressed_size = Le32(header, 24);
  entry.local_header_offset = Le32(header, 42);
  ApplyZip64Extra(header.substr(kFileHeaderSize + name_length, extra_length), entry);
  return entry;
}

}  // namespace snapd
