// age v1 encryption as a streaming sink: the header and payload nonce go out before the first
// chunk; a full buffer is sealed only once more data arrives, so the last chunk is known.
#include "pipeline/age_encrypt_sink.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/string_sink.h"
#include "pipeline/age_format.h"

namespace snapd {
namespace {}  // namespace

struct AgeEncryptSink::State {
  State(ByteSink& sink, const age::Key32& key) : out(sink), aead(key) {}

  ByteSink& out;
  std::string header;  // header and payload nonce, until written
  age::ChaCha20Poly1305 aead;
  // Plaintext of the current chunk, sealed in place with room for its tag.
  std::vector<uint8_t> chunk = std::vector<uint8_t>(age::kSealedChunkSize);
  size_t chunk_used = 0;
  uint64_t counter = 0;
  bool finished = false;
  bool failed = false;  // a write to `out` threw: the stream is incomplete, refuse more

  void WriteHeaderOnce() {
    if (header.empty()) return;
    out.Write(header);
    header.clear();
  }

  void SealChunk(bool last) {
    WriteHeaderOnce();
    aead.Seal(age::ChunkNonce(counter, last), std::span(chunk.data(), chunk_used), chunk.data());
    out.Write(std::string_view(reinterpret_cast<const char*>(chunk.data()),
                               chunk_used + age::kAeadTagSize));
    ++counter;
    chunk_used = 0;
  }
};

AgeEncryptSink::AgeEncryptSink(ByteSink& out, const std::vector<AgeRecipient>& recipients) {
  if (recipients.empty()) throw Error::InvalidInput("age encrypt: no recipients");
  age::FileKey file_key{};
  age::WipeOnExit wipe_file_key(file_key);
  age::RandomBytes(file_key);
  std::vector<age::Stanza> stanzas;
  stanzas.reserve(recipients.size());
  for (const AgeRecipient& recipient : recipients) {
    stanzas.push_back(age::WrapX25519(file_key, recipient));
  }
  age::PayloadNonce nonce{};
  age::RandomBytes(nonce);
  age::Key32 payload_key = age::PayloadKey(file_key, nonce);
  age::WipeOnExit wipe_payload_key(payload_key);

  state_ = std::make_unique<State>(out, payload_key);
  state_->header = age::FormatHeader(file_key, stanzas);
  state_->header.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
}

AgeEncryptSink::~AgeEncryptSink() {
  age::Wipe(state_->chunk);
}

void AgeEncryptSink::Write(std::string_view data) {
  State& s = *state_;
  if (s.finished) throw Error::Permanent("age encrypt: write after finish");
  if (s.failed) throw Error::Permanent("age encrypt: write after a failed write");
  s.failed = true;
  while (!data.empty()) {
    if (s.chunk_used == age::kChunkSize) s.SealChunk(false);
    size_t take = std::min(age::kChunkSize - s.chunk_used, data.size());
    std::copy_n(data.data(), take, s.chunk.data() + s.chunk_used);
    s.chunk_used += take;
    data.remove_prefix(take);
  }
  s.failed = false;
}

void AgeEncryptSink::Finish() {
  State& s = *state_;
  if (s.finished) throw Error::Permanent("age encrypt: finished twice");
  if (s.failed) throw Error::Permanent("age encrypt: finish after a failed write");
  s.failed = true;
  s.SealChunk(true);
  s.finished = true;
  s.failed = false;
}

std::string AgeEncrypt(std::string_view plaintext, const std::vector<AgeRecipient>& recipients) {
  std::string out;
  StringSink sink(out);
  AgeEncryptSink encrypt(sink, recipients);
  encrypt.Write(plaintext);
  encrypt.Finish();
  return out;
}

}  // namespace snapd
