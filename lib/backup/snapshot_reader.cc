// ReadStoredSnapshot: a pull pipeline of stored bytes → hash → [age] → [zip|zstd] → checks.
#include "backup/snapshot_reader.h"

#include <memory>

#include "core/digest.h"
#include "core/error.h"
#include "pipeline/age_decrypt_source.h"
#include "pipeline/zip_decompress_source.h"
#include "pipeline/zstd_decompress_source.h"
#include "snapshot/snapshot_name.h"

namespace snapd {
namespace {

constexpr size_t kReadChunk = 1 << 20;

// Hashes and counts the stored bytes as the decoders pull them.
class HashingSource final : public ByteSource {
 public:
  HashingSource(ByteSource& in, const ReadProgress& progress) : in_(in), progress_(progress) {}

  size_t Read(char* buffer, size_t size) override {
    if (progress_.cancel != nullptr && progress_.cancel->load()) {
      throw Error::Cancelled("reading the snapshot was cancelled (shutdown, or a save)");
    }
    size_t n = in_.Read(buffer, size);
    hash_.Update(buffer, n);
    size_ += n;
    if (progress_.on_stored_bytes && n > 0) progress_.on_stored_bytes(n);
    return n;
  }

  uint64_t size() const { return size_; }
  std::string FinishHex() { return DigestHex(hash_.Finish()); }

 private:
  ByteSource& in_;
  const ReadProgress& progress_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

}  // namespace

DecodedSnapshot ReadStoredSnapshot(ByteSource& stored, const SnapshotRecord& record,
                                   const IdentitySupplier& identities, ByteSink* out,
                                   const ReadProgress& progress) {
  const SnapshotEncoding encoding = EncodingOfName(record.name);
  HashingSource hashing(stored, progress);
  ByteSource* head = &hashing;
  std::unique_ptr<ByteSource> decrypt;
  std::unique_ptr<ByteSource> decompress;
  if (encoding.encrypted) {
    if (!identities) {
      throw Error::InvalidInput(
          "snapshot is encrypted; set etcd-snapshot-encryption-identity-file to read it");
    }
    decrypt = std::make_unique<AgeDecryptSource>(*head, identities());
    head = decrypt.get();
  }
  if (encoding.compression == Compression::kZip) {
    decompress = std::make_unique<ZipDecompressSource>(*head);
  } else if (encoding.compression == Compression::kZstd) {
    decompress = std::make_unique<ZstdDecompressSource>(*head);
  }
  if (decompress) head = decompress.get();

  // etcd's trailer is checked as the bytes pass; a SQLite copy has none (the caller checks the
  // decoded database itself), so only its size and digest are taken.
  const bool etcd = record.datastore != "sqlite";
  SnapshotIntegrity integrity;
  Sha256 plain;
  uint64_t plain_size = 0;
  std::unique_ptr<char[]> buffer(new char[kReadChunk]);
  for (;;) {
    size_t n = head->Read(buffer.get(), kReadChunk);
    if (n == 0) break;
    std::string_view chunk(buffer.get(), n);
    if (etcd) {
      integrity.Write(chunk);
    } else {
      plain.Update(chunk);
      plain_size += n;
    }
    if (out != nullptr) out->Write(chunk);
  }
  // A zip's central directory follows its entry: the stored hash covers every byte.
  while (hashing.Read(buffer.get(), kReadChunk) > 0) {
  }

  DecodedSnapshot decoded;
  decoded.stored_size = hashing.size();
  decoded.stored_sha256 = hashing.FinishHex();
  if (!record.sha256.empty() && record.sha256 != decoded.stored_sha256) {
    throw Error::Corrupt("stored bytes have sha256 " + decoded.stored_sha256 +
                         " but the record says " + record.sha256);
  }
  if (record.size != 0 && record.size != decoded.stored_size) {
    throw Error::Corrupt("read " + std::to_string(decoded.stored_size) +
                         " bytes but the record says " + std::to_string(record.size));
  }
  decoded.snapshot =
      etcd ? integrity.Finish() : SnapshotDigest{plain_size, DigestHex(plain.Finish())};
  return decoded;
}

}  // namespace snapd
