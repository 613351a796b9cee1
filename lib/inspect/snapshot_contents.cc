// OpenSnapshotContents and EtcdSnapshotContents: which reader a snapshot file needs, by content.
#include "inspect/snapshot_contents.h"

#include <cstring>

#include "core/error.h"
#include "inspect/kine_snapshot.h"
#include "inspect/mapped_file.h"
#include "inspect/mvcc_snapshot.h"

namespace snapd {
namespace {

constexpr char kSqliteHeader[] = "SQLite format 3";  // and its NUL: the file's first 16 bytes
constexpr uint8_t kBboltMagic[] = {0xED, 0xDA, 0x0C, 0xED};  // 0xED0CDAED, little-endian

// Whether either meta page starts with bbolt's magic: meta page 0 at the start, meta page 1 one
// page in (page sizes are powers of two), each after its 16-byte page header.
bool LooksLikeBbolt(std::span<const uint8_t> bytes) {
  for (size_t page = 0; page <= (1u << 16); page = page == 0 ? 512 : page * 2) {
    const size_t at = page + 16;
    if (bytes.size() >= at + sizeof(kBboltMagic) &&
        std::memcmp(bytes.data() + at, kBboltMagic, sizeof(kBboltMagic)) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::unique_ptr<SnapshotContents> OpenSnapshotContents(const std::string& path) {
  auto file = std::make_unique<MappedFile>(path);
  const std::span<const uint8_t> bytes = file->bytes();
  if (bytes.size() >= sizeof(kSqliteHeader) &&
      std::memcmp(bytes.data(), kSqliteHeader, sizeof(kSqliteHeader)) == 0) {
    file.reset();  // SQLite reads the file itself
    return std::make_unique<KineSnapshot>(path);
  }
  if (LooksLikeBbolt(bytes)) {
    try {
      return std::make_unique<MvccSnapshot>(bytes, std::move(file));
    } catch (const Error& e) {
      throw e.WithContext(path);
    }
  }
  throw Error::Corrupt(path +
                       ": neither an etcd (bbolt) nor a kine (SQLite) database: is it still "
                       "compressed or encrypted?");
}

std::unique_ptr<SnapshotContents> EtcdSnapshotContents(std::span<const uint8_t> data) {
  return std::make_unique<MvccSnapshot>(data);
}

}  // namespace snapd
