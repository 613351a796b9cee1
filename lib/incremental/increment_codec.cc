// Encoding and decoding of stored increments through the snapshot pipeline's stages.
#include "incremental/increment_codec.h"

#include <memory>

#include "core/error.h"
#include "core/string_sink.h"
#include "core/string_source.h"
#include "pipeline/age_decrypt_source.h"
#include "pipeline/age_encrypt_sink.h"
#include "pipeline/zstd_compress_sink.h"
#include "pipeline/zstd_decompress_source.h"

namespace snapd {
namespace {

// A decoded increment larger than this is not one of ours: stop before memory runs away.
constexpr size_t kMaxPlainSize = size_t{64} << 20;

std::string ReadAll(ByteSource& source) {
  std::string out;
  char buffer[64 * 1024];
  for (size_t n; (n = source.Read(buffer, sizeof buffer)) > 0;) {
    out.append(buffer, n);
    if (out.size() > kMaxPlainSize) throw Error::Corrupt("increment decodes to over 64 MiB");
  }
  return out;
}

}  // namespace

std::string EncodeStoredIncrement(std::string_view plain, const IncrementEncoding& encoding) {
  std::string stored;
  StringSink out(stored);
  ByteSink* next = &out;
  std::unique_ptr<EncodingSink> encrypt;
  std::unique_ptr<EncodingSink> compress;
  if (!encoding.recipients.empty()) {
    encrypt = std::make_unique<AgeEncryptSink>(*next, encoding.recipients);
    next = encrypt.get();
  }
  if (encoding.compress) {
    compress = std::make_unique<ZstdCompressSink>(*next, encoding.zstd_level);
    next = compress.get();
  }
  next->Write(plain);
  if (compress) compress->Finish();
  if (encrypt) encrypt->Finish();
  return stored;
}

std::string DecodeStoredIncrement(std::string_view stored, bool compressed, bool encrypted,
                                  const std::vector<AgeIdentity>& identities) {
  StringSource raw(stored);
  ByteSource* source = &raw;
  std::unique_ptr<ByteSource> decrypt;
  std::unique_ptr<ByteSource> decompress;
  if (encrypted) {
    if (identities.empty()) {
      throw Error::InvalidInput(
          "the increment is encrypted and no etcd-snapshot-encryption-identity-file is set");
    }
    decrypt = std::make_unique<AgeDecryptSource>(*source, identities);
    source = decrypt.get();
  }
  if (compressed) {
    decompress = std::make_unique<ZstdDecompressSource>(*source);
    source = decompress.get();
  }
  return ReadAll(*source);
}

}  // namespace snapd
