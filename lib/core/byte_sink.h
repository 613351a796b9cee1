// Where streamed bytes go: snapshot files, uploads, hashers. Stages of the save pipeline pass
// chunks through this interface so no stage needs the whole snapshot in memory.
#pragma once

#include <string_view>

namespace snapd {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Takes the next chunk; throws snapd::Error to stop the stream.
  virtual void Write(std::string_view chunk) = 0;
};

}  // namespace snapd
