// Compresses a stream into one zstd frame (with content checksum) with libzstd, so `zstd -d`
// reads it.
#pragma once

#include <memory>
#include <string_view>

#include "pipeline/stream_stage.h"

namespace snapd {

class ZstdCompressSink final : public EncodingSink {
 public:
  // `level`: zstd level (1..19). Throws Error::InvalidInput outside that range.
  explicit ZstdCompressSink(ByteSink& out, int level = 3);
  ~ZstdCompressSink() override;

  void Write(std::string_view chunk) override;
  void Finish() override;  // ends the frame

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace snapd
