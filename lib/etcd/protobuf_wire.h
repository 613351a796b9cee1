// Just enough of the protobuf wire format to read etcd's SnapshotResponse and StatusResponse
// by hand: fields as (number, wire type, value), unknown ones skipped. Pure; never throws
// anything but Error::Corrupt.
#pragma once

#include <cstdint>
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

}  // namespace snapd
