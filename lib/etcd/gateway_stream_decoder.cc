// Gateway snapshot stream decoding and its remaining_bytes bookkeeping.
#include "etcd/gateway_stream_decoder.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/error.h"
#include "etcd/snapshot_sequence.h"

namespace snapd {
namespace {

constexpr std::string_view kWhere = "etcd snapshot stream: ";

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// `message` holds "error": the 3.4 gateway streams {"error":{"grpc_code","message",...}}; a
// unary-style answer puts a string there and "code" and "message" beside it.
[[noreturn]] void ThrowEtcdError(const nlohmann::json& message_object) {
  const nlohmann::json& error = message_object["error"];
  const nlohmann::json& fields = error.is_object() ? error : message_object;
  std::string message = error.is_string() ? error.get<std::string>() : "unknown error";
  int code = 2;
  if (auto it = fields.find("message"); it != fields.end() && it->is_string()) message = *it;
  if (auto it = fields.find("grpc_code"); it != fields.end() && it->is_number_integer()) code = *it;
  if (auto it = fields.find("code"); it != fields.end() && it->is_number_integer()) code = *it;
  // Error messages are one line and short, whatever etcd (or a proxy) put in its message.
  if (message.size() > 300) message = message.substr(0, 300) + "...";
  for (char& c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  std::string text = std::string(kWhere) + "etcd answered an error: " + message + " (grpc code " +
                     std::to_string(code) + ")";
  throw Error(IsTransientGrpcCode(code) ? ErrorKind::kTransient : ErrorKind::kPermanent, text);
}

uint64_t ParseRemaining(const nlohmann::json& result) {
  auto it = result.find("remaining_bytes");
  if (it == result.end()) return 0;  // zero fields are omitted by the gateway
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (!it->is_string())
    throw Error::Corrupt(std::string(kWhere) + "remaining_bytes is not a number");
  const std::string& text = it->get_ref<const std::string&>();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw Error::Corrupt(std::string(kWhere) + "remaining_bytes \"" + text + "\" is not a number");
  }
  return value;
}

// etcd's gateway writes every data message as {"result":{"remaining_bytes":"N","blob":"..."}}
// (the last one without remaining_bytes). That shape is read directly, which is several times
// faster than a JSON parser building a 44 KiB string per message; anything else (an error,
// other fields, escapes, bad base64) returns false and goes through the parser, which also
// words the errors.
bool DecodePlainMessage(std::string_view line, uint64_t& remaining, std::string& blob) {
  constexpr std::string_view kHead = R"({"result":{)";
  constexpr std::string_view kRemaining = R"("remaining_bytes":")";
  constexpr std::string_view kBlob = R"("blob":")";
  constexpr std::string_view kTail = R"("}})";
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (!line.starts_with(kHead)) return false;
  line.remove_prefix(kHead.size());
  remaining = 0;
  if (line.starts_with(kRemaining)) {
    line.remove_prefix(kRemaining.size());
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), remaining);
    const size_t digits = static_cast<size_t>(end - line.data());
    if (ec != std::errc() || line.substr(digits, 2) != "\",") return false;
    line.remove_prefix(digits + 2);
  }
  if (!line.starts_with(kBlob) || !line.ends_with(kTail) ||
      line.size() < kBlob.size() + kTail.size()) {
    return false;
  }
  blob.clear();
  try {
    Base64DecodeAppend(line.substr(kBlob.size(), line.size() - kBlob.size() - kTail.size()), blob);
  } catch (const Error&) {
    return false;
  }
  return true;
}

}  // namespace

void GatewayStreamDecoder::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    size_t line_size = pending_.size() + std::min(newline, bytes.size());
    if (line_size > kMaxMessageSize) {
      throw Error::Corrupt(std::string(kWhere) + "message longer than " +
                           std::to_string(kMaxMessageSize) + " bytes");
    }
    if (newline == std::string_view::npos) {
      pending_.append(bytes);
      return;
    }
    if (pending_.empty()) {
      HandleMessage(bytes.substr(0, newline));
    } else {
      pending_.append(bytes.substr(0, newline));
      HandleMessage(pending_);
      pending_.clear();
    }
    bytes.remove_prefix(newline + 1);
  }
}

void GatewayStreamDecoder::Finish() {
  if (!IsBlank(pending_)) {
    std::string last;
    last.swap(pending_);
    // An error object may arrive without a final newline; half a message means a cut.
    nlohmann::json message = nlohmann::json::parse(last, nullptr, /*allow_exceptions=*/false);
    if (!message.is_object()) {
      throw Error::Transient(std::string(kWhere) + "cut inside a message after " +
                             std::to_string(sequence_.bytes_decoded()) + " of " +
                             std::to_string(sequence_.database_size()) +
                             " bytes (etcd went away mid-snapshot?)");
    }
    HandleMessage(last);
  }
  sequence_.Finish();
}

void GatewayStreamDecoder::HandleMessage(std::string_view line) {
  if (IsBlank(line)) return;
  uint64_t remaining = 0;
  if (DecodePlainMessage(line, remaining, blob_)) {
    sequence_.Accept(remaining, blob_);
    return;
  }
  nlohmann::json message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded() || !message.is_object()) {
    throw Error::Corrupt(std::string(kWhere) + "message is not a JSON object");
  }
  if (message.contains("error")) ThrowEtcdError(message);
  auto result = message.find("result");
  if (result == message.end() || !result->is_object()) {
    throw Error::Corrupt(std::string(kWhere) + "message has no \"result\" object");
  }
  remaining = ParseRemaining(*result);
  blob_.clear();
  if (auto blob = result->find("blob"); blob != result->end()) {
    if (!blob->is_string()) throw Error::Corrupt(std::string(kWhere) + "blob is not a string");
    try {
      Base64DecodeAppend(blob->get_ref<const std::string&>(), blob_);
    } catch (const Error& e) {
      throw Error::Corrupt(std::string(kWhere) + "blob: " + e.what());
    }
  }

  sequence_.Accept(remaining, blob_);
}

}  // namespace snapd
