// The shape of a streaming stage of the save and restore pipelines: encoders (compress,
// encrypt) are sinks that pass their output to the next sink; decoders are sources that pull
// from the previous source. Neither holds more than a bounded buffer.
#pragma once

#include "core/byte_sink.h"
#include "core/byte_source.h"

namespace snapd {

// A sink that encodes what it is given into another sink. Finish writes what the encoding
// still holds (last block, trailer) to that sink; call it once, after the last Write. A stage
// destroyed without Finish writes nothing more (the save is being abandoned).
class EncodingSink : public ByteSink {
 public:
  virtual void Finish() = 0;
};

}  // namespace snapd
