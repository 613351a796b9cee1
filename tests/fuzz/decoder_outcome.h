// The outcome of reading a whole decoding ByteSource (zip, zstd, age) over the fuzz input, and
// the check that how the input is split and read does not change it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "fuzz_input.h"

namespace snapd::fuzz {

// Output past this is not read: a decompression bomb is bounded by the caller's disk, not by
// the decoder.
inline constexpr size_t kOutputLimit = 16 << 20;

struct DecoderOutcome {
  std::optional<ErrorKind> error;
  std::string bytes;
  bool complete = false;  // read to its end without error
};

// `make(source)` returns the decoder over `source`. Errors other than snapd::Error escape.
template <typename MakeDecoder>
DecoderOutcome DecodeAll(std::string_view input, size_t piece, size_t read_size,
                         MakeDecoder&& make) {
  DecoderOutcome outcome;
  PieceSource source(input, piece);
  try {
    auto decoder = make(source);
    outcome.bytes = Drain(*decoder, kOutputLimit, read_size, outcome.complete);
  } catch (const Error& e) {
    outcome.error = e.kind();
  }
  return outcome;
}

// Two reads of the same input agree: on failing (unless one stopped at the output limit first)
// and on every byte both produced.
inline void CheckSameOutcome(const DecoderOutcome& a, const DecoderOutcome& b) {
  const size_t common = std::min(a.bytes.size(), b.bytes.size());
  Check(std::string_view(a.bytes).substr(0, common) == std::string_view(b.bytes).substr(0, common),
        "split and whole decode the same bytes");
  if (a.bytes.size() < kOutputLimit && b.bytes.size() < kOutputLimit) {
    Check(a.error.has_value() == b.error.has_value(), "split and whole agree on failing");
    if (a.complete && b.complete) Check(a.bytes == b.bytes, "split and whole end alike");
  }
}

}  // namespace snapd::fuzz
