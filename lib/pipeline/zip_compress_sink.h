// Compresses a stream into a zip archive the way k3s does: one Deflate entry named after the
// snapshot, streamed (sizes in a data descriptor), readable by `unzip` and Go's archive/zip
// (k3s's `--cluster-reset-restore-path`). The zip format itself is libarchive's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pipeline/stream_stage.h"

namespace snapd {

class ZipCompressSink final : public EncodingSink {
 public:
  // `entry_name`: the snapshot name without `.zip`; `mtime_unix`: the entry's modified time.
  ZipCompressSink(ByteSink& out, std::string entry_name, int64_t mtime_unix);
  ~ZipCompressSink() override;

  void Write(std::string_view chunk) override;
  void Finish() override;  // ends the entry and writes the central directory

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace snapd
