// libzstd streaming decompression straight into the caller's buffer, frame after frame, with
// the window bounded so a hostile file cannot make us allocate more than 128 MiB for it.
#include "pipeline/zstd_decompress_source.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <exception>
#include <vector>

#include "core/error.h"

namespace snapd {
namespace {

// Frames needing a larger window (`zstd --long=28` and up) are refused; ours use at most 2^23.
constexpr int kWindowLogMax = 27;

[[noreturn]] void ThrowDecodeError(size_t code) {
  switch (ZSTD_getErrorCode(code)) {
    case ZSTD_error_prefix_unknown:
      throw Error::Corrupt("zstd: not zstd data (unknown frame magic)");
    case ZSTD_error_checksum_wrong:
      throw Error::Corrupt("zstd: checksum mismatch");
    case ZSTD_error_frameParameter_windowTooLarge:
      throw Error::Corrupt("zstd: frame needs a window over 128 MiB, refused");
    case ZSTD_error_memory_allocation:
      throw Error::Permanent("zstd: out of memory");
    default:
      throw Error::Corrupt(std::string("zstd: corrupt data: ") + ZSTD_getErrorName(code));
  }
}

}  // namespace

struct ZstdDecompressSource::State {
  explicit State(ByteSource& source) : in(source), input(ZSTD_DStreamInSize()) {}
  ~State() { ZSTD_freeDCtx(context); }

  ByteSource& in;
  ZSTD_DCtx* context = nullptr;
  std::vector<char> input;
  size_t input_length = 0;
  size_t input_position = 0;
  bool input_ended = false;
  bool frame_open = false;  // a frame has started and not been fully decoded and flushed
  bool any_frame = false;
  std::exception_ptr error;  // the first error Read threw

  size_t ReadSome(char* buffer, size_t size) {
    if (size == 0) return 0;
    ZSTD_outBuffer output{buffer, size, 0};
    for (;;) {
      if (input_position == input_length && !input_ended) {
        input_length = in.Read(input.data(), input.size());
        input_position = 0;
        input_ended = input_length == 0;
      }
      if (input_position == input_length && input_ended && !frame_open) {
        if (!any_frame) throw Error::Corrupt("zstd: empty stream, no frame");
        return 0;
      }
      ZSTD_inBuffer in_buffer{input.data(), input_length, input_position};
      const size_t hint = ZSTD_decompressStream(context, &output, &in_buffer);
      if (ZSTD_isError(hint)) ThrowDecodeError(hint);
      const bool consumed = in_buffer.pos > input_position;
      input_position = in_buffer.pos;
      // 0: a frame is complete and flushed; anything else: the frame goes on.
      frame_open = hint != 0;
      any_frame = any_frame || consumed;
      if (output.pos > 0) return output.pos;
      if (input_position == input_length && input_ended && frame_open) {
        throw Error::Corrupt("zstd: stream ends mid-frame (truncated)");
      }
    }
  }
};

ZstdDecompressSource::ZstdDecompressSource(ByteSource& in) : state_(std::make_unique<State>(in)) {
  State& s = *state_;
  s.context = ZSTD_createDCtx();
  if (s.context == nullptr) throw Error::Permanent("zstd: cannot create decompression context");
  const size_t status = ZSTD_DCtx_setParameter(s.context, ZSTD_d_windowLogMax, kWindowLogMax);
  if (ZSTD_isError(status)) {
    throw Error::Permanent(std::string("zstd: cannot bound the window: ") +
                           ZSTD_getErrorName(status));
  }
}

ZstdDecompressSource::~ZstdDecompressSource() = default;

size_t ZstdDecompressSource::Read(char* buffer, size_t size) {
  State& s = *state_;
  // A context that failed cannot go on: every later Read repeats the first error.
  if (s.error) std::rethrow_exception(s.error);
  try {
    return s.ReadSome(buffer, size);
  } catch (...) {
    s.error = std::current_exception();
    throw;
  }
}

}  // namespace snapd
