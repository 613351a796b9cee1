// DescribeKubeValue: the apiserver's storage encodings, read far enough to name the object.
#include "inspect/kube_value.h"

#include "core/error.h"
#include "etcd/protobuf_wire.h"

namespace snapd {
namespace {

// k8s.io/apimachinery runtime/serializer/protobuf: this prefix, then a runtime.Unknown.
constexpr std::string_view kProtobufPrefix("k8s\0", 4);
// k8s.io/apiserver storage/value: "k8s:enc:<provider>:v1:<name>:" then the ciphertext.
constexpr std::string_view kEncryptedPrefix = "k8s:enc:";

// runtime.Unknown {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, ...}.
bool ReadTypeMeta(std::string_view unknown, KubeValue& out) {
  ProtobufReader fields(unknown);
  ProtobufField field;
  bool found = false;
  while (fields.Next(field)) {
    if (field.number != 1 || field.wire_type != 2) continue;
    ProtobufReader meta(field.bytes_value);
    ProtobufField m;
    while (meta.Next(m)) {
      if (m.wire_type != 2) continue;
      if (m.number == 1) out.api_version.assign(m.bytes_value);
      if (m.number == 2) out.kind.assign(m.bytes_value);
    }
    found = true;
  }
  return found;
}

// The provider part of an encrypted value: up to the colon after the key name.
std::string EncryptionProvider(std::string_view value) {
  size_t end = kEncryptedPrefix.size();
  for (int colons = 0; end < value.size() && end < 256; ++end) {
    if (value[end] == ':' && ++colons == 3) return std::string(value.substr(0, end));
  }
  return std::string(kEncryptedPrefix);
}

}  // namespace

KubeValue DescribeKubeValue(std::string_view value) {
  KubeValue out;
  if (value.starts_with(kProtobufPrefix)) {
    try {
      if (ReadTypeMeta(value.substr(kProtobufPrefix.size()), out)) {
        out.encoding = "protobuf";
        return out;
      }
    } catch (const Error&) {
    }
    out = KubeValue{};
  } else if (value.starts_with(kEncryptedPrefix)) {
    out.encoding = "encrypted";
    out.provider = EncryptionProvider(value);
    return out;
  } else if (value.starts_with("{")) {
    nlohmann::json object = nlohmann::json::parse(value, nullptr, false);
    if (!object.is_discarded() && object.is_object()) {
      out.encoding = "json";
      if (auto it = object.find("apiVersion"); it != object.end() && it->is_string()) {
        out.api_version = it->get<std::string>();
      }
      if (auto it = object.find("kind"); it != object.end() && it->is_string()) {
        out.kind = it->get<std::string>();
      }
      out.object = std::move(object);
      return out;
    }
  }
  out.encoding = "raw";
  return out;
}

}  // namespace snapd
