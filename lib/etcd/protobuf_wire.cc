// ProtobufReader and ProtobufWriter: varints, fixed-width and length-delimited fields.
#include "etcd/protobuf_wire.h"

#include <string>

#include "core/error.h"

namespace snapd {
namespace {

[[noreturn]] void Truncated(const char* what) {
  throw Error::Corrupt(std::string("protobuf: truncated ") + what);
}

}  // namespace

uint64_t ProtobufReader::Varint() {
  uint64_t value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (rest_.empty()) Truncated("varint");
    const auto byte = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    if (shift == 63 && byte > 1) throw Error::Corrupt("protobuf: varint over 64 bits");
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw Error::Corrupt("protobuf: varint longer than 10 bytes");
}

bool ProtobufReader::Next(ProtobufField& field) {
  if (rest_.empty()) return false;
  const uint64_t key = Varint();
  field = ProtobufField{};
  field.wire_type = static_cast<uint32_t>(key & 7);
  const uint64_t number = key >> 3;
  if (number == 0 || number > 0x1fffffff) throw Error::Corrupt("protobuf: bad field number");
  field.number = static_cast<uint32_t>(number);
  auto fixed = [&](size_t size) {
    if (rest_.size() < size) Truncated("fixed-width field");
    uint64_t value = 0;
    for (size_t i = 0; i < size; ++i) {
      value |= static_cast<uint64_t>(static_cast<uint8_t>(rest_[i])) << (8 * i);
    }
    rest_.remove_prefix(size);
    return value;
  };
  switch (field.wire_type) {
    case 0:
      field.number_value = Varint();
      return true;
    case 1:
      field.number_value = fixed(8);
      return true;
    case 2: {
      const uint64_t size = Varint();
      if (size > rest_.size()) Truncated("length-delimited field");
      field.bytes_value = rest_.substr(0, size);
      rest_.remove_prefix(size);
      return true;
    }
    case 5:
      field.number_value = fixed(4);
      return true;
    default:
      throw Error::Corrupt("protobuf: unsupported wire type " + std::to_string(field.wire_type));
  }
}

void ProtobufWriter::AppendVarint(uint64_t value) {
  while (value >= 0x80) {
    message_ += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  message_ += static_cast<char>(value);
}

ProtobufWriter& ProtobufWriter::Varint(uint32_t number, uint64_t value) {
  AppendVarint(uint64_t{number} << 3);
  AppendVarint(value);
  return *this;
}

ProtobufWriter& ProtobufWriter::Bytes(uint32_t number, std::string_view bytes) {
  AppendVarint((uint64_t{number} << 3) | 2);
  AppendVarint(bytes.size());
  message_.append(bytes);
  return *this;
}

}  // namespace snapd
