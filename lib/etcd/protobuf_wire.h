// Just enough of the protobuf wire format to read and write etcd's messages by hand: fields as
// (number, wire type, value), unknown ones skipped. Pure; the reader never throws anything but
// Error::Corrupt, the writer nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace snapd {

struct ProtobufField {
  uint32_t number = 0;
  uint32_t wire_type = 0;        // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  uint64_t number_value = 0;     // varint, fixed64 and fixed32 values
  std::string_view bytes_value;  // length-delimited values (views into the message)
};

class ProtobufReader {
 public:
  explicit ProtobufReader(std::string_view message) : rest_(message) {}
  // The next field into `field`; false at the end of the message. Throws Error::Corrupt for a
  // truncated field, a varint over 10 bytes, field number 0, or a group (wire types 3 and 4).
  bool Next(ProtobufField& field);

 private:
  uint64_t Varint();
  std::string_view rest_;
};

// Appends fields to a message in the order given. Each call writes its field even when it
// holds the default value (0, empty): proto3 oneof members must be, and callers omit the rest.
class ProtobufWriter {
 public:
  // A varint field (wire type 0); int64 values go in as their two's complement (10 bytes when
  // negative), as protobuf encodes int64.
  ProtobufWriter& Varint(uint32_t number, uint64_t value);
  // A length-delimited field (wire type 2): bytes, strings and nested messages.
  ProtobufWriter& Bytes(uint32_t number, std::string_view bytes);
  const std::string& message() const { return message_; }

 private:
  void AppendVarint(uint64_t value);
  std::string message_;
};

}  // namespace snapd
