// A ByteSink that appends to a string: for small payloads (a token, a ranged GET).
#pragma once

#include <string>
#include <string_view>

#include "core/byte_sink.h"

namespace snapd {

class StringSink final : public ByteSink {
 public:
  explicit StringSink(std::string& out) : out_(out) {}
  void Write(std::string_view chunk) override { out_.append(chunk); }

 private:
  std::string& out_;
};

}  // namespace snapd
