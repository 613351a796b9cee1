// libzstd streaming compression into one frame with a content checksum; output leaves through
// one reused buffer of ZSTD_CStreamOutSize bytes.
#include "pipeline/zstd_compress_sink.h"

#include <zstd.h>

#include <vector>

#include "core/error.h"

namespace snapd {

struct ZstdCompressSink::State {
  explicit State(ByteSink& sink) : out(sink), buffer(ZSTD_CStreamOutSize()) {}
  ~State() { ZSTD_freeCCtx(context); }

  ByteSink& out;
  ZSTD_CCtx* context = nullptr;
  std::vector<char> buffer;
  bool finished = false;
  bool failed = false;

  // Feeds `input` with `mode` until zstd has taken all of it (and, for ZSTD_e_end, flushed the
  // frame), passing each filled buffer on.
  void Compress(ZSTD_inBuffer& input, ZSTD_EndDirective mode) {
    failed = true;  // until this returns normally
    size_t remaining = 0;
    do {
      ZSTD_outBuffer output{buffer.data(), buffer.size(), 0};
      remaining = ZSTD_compressStream2(context, &output, &input, mode);
      if (ZSTD_isError(remaining)) {
        throw Error::Permanent(std::string("zstd: compression failed: ") +
                               ZSTD_getErrorName(remaining));
      }
      if (output.pos > 0) out.Write(std::string_view(buffer.data(), output.pos));
    } while (mode == ZSTD_e_end ? remaining != 0 : input.pos < input.size);
    failed = false;
  }

  void CheckUsable(const char* operation) {
    if (failed) throw Error::Permanent(std::string("zstd: ") + operation + " after a failure");
    if (finished) throw Error::InvalidInput(std::string("zstd: ") + operation + " after Finish");
  }
};

ZstdCompressSink::ZstdCompressSink(ByteSink& out, int level)
    : state_(std::make_unique<State>(out)) {
  if (level < 1 || level > 19) {
    throw Error::InvalidInput("zstd: level " + std::to_string(level) + " is not in 1..19");
  }
  State& s = *state_;
  s.context = ZSTD_createCCtx();
  if (s.context == nullptr) throw Error::Permanent("zstd: cannot create compression context");
  for (auto [parameter, value] :
       {std::pair{ZSTD_c_compressionLevel, level}, std::pair{ZSTD_c_checksumFlag, 1}}) {
    const size_t status = ZSTD_CCtx_setParameter(s.context, parameter, value);
    if (ZSTD_isError(status)) {
      throw Error::Permanent(std::string("zstd: cannot set compression parameter: ") +
                             ZSTD_getErrorName(status));
    }
  }
}

ZstdCompressSink::~ZstdCompressSink() = default;

void ZstdCompressSink::Write(std::string_view chunk) {
  State& s = *state_;
  s.CheckUsable("write");
  if (chunk.empty()) return;
  ZSTD_inBuffer input{chunk.data(), chunk.size(), 0};
  s.Compress(input, ZSTD_e_continue);
}

void ZstdCompressSink::Finish() {
  State& s = *state_;
  s.CheckUsable("Finish");
  s.finished = true;
  ZSTD_inBuffer input{nullptr, 0, 0};
  s.Compress(input, ZSTD_e_end);
}

}  // namespace snapd
