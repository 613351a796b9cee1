// What the fuzz targets share: the input as a ByteSource handed out in pieces whose size the
// input decides, and draining a source with a bound on how much it may produce.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_sink.h"
#include "core/byte_source.h"

namespace snapd::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A piece size of 1 to `max` bytes picked from the input's length and first byte, so a seed
// file stays a valid stream (nothing is taken from it) and still gets split differently.
inline size_t PieceSizeFor(std::string_view input, size_t max = 4096) {
  const size_t first = input.empty() ? 0 : static_cast<unsigned char>(input[0]);
  return 1 + (input.size() * 31 + first * 131) % max;
}

// A broken invariant aborts with its description, so libFuzzer records the input as a crash.
inline void Check(bool ok, const char* invariant) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", invariant);
    std::abort();
  }
}

// Hands out at most `piece` bytes per Read.
class PieceSource final : public ByteSource {
 public:
  PieceSource(std::string_view data, size_t piece) : data_(data), piece_(piece) {}
  size_t Read(char* buffer, size_t size) override {
    const size_t n = std::min({size, piece_, data_.size()});
    if (n > 0) std::memcpy(buffer, data_.data(), n);
    data_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view data_;
  size_t piece_;
};

// Appends everything written; a source or decoder that produces more than `limit` bytes is
// cut there (decompression bombs are the caller's to bound, not a parser bug).
class BoundedSink final : public ByteSink {
 public:
  explicit BoundedSink(size_t limit) : limit_(limit) {}
  void Write(std::string_view chunk) override {
    const size_t n = std::min(chunk.size(), limit_ - std::min(limit_, bytes.size()));
    bytes.append(chunk.substr(0, n));
  }
  std::string bytes;

 private:
  size_t limit_;
};

// Reads `source` to its end, or until `limit` bytes came out; reads of `read_size` bytes.
// Returns what was read; `complete` says whether the end was reached.
inline std::string Drain(ByteSource& source, size_t limit, size_t read_size, bool& complete) {
  std::string out;
  std::vector<char> buffer(read_size);
  complete = false;
  while (out.size() < limit) {
    const size_t n = source.Read(buffer.data(), buffer.size());
    Check(n <= buffer.size(), "a source returns at most the size asked for");
    if (n == 0) {
      complete = true;
      break;
    }
    out.append(buffer.data(), n);
  }
  return out;
}

}  // namespace snapd::fuzz
