// Gateway snapshot stream decoding and its remaining_bytes bookkeeping.
#include "etcd/gateway_stream_decoder.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/error.h"

namespace snapd {
namespace {

constexpr std::string_view kWhere = "etcd snapshot stream: ";

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// gRPC codes for which trying again later may work: CANCELLED, UNKNOWN, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE.
bool IsTransientGrpcCode(int code) {
  return code == 1 || code == 2 || code == 4 || code == 8 || code == 10 || code == 14;
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
                             std::to_string(sent_) + " of " + std::to_string(total_) +
                             " bytes (etcd went away mid-snapshot?)");
    }
    HandleMessage(last);
  }
  if (!started_) {
    throw Error::Transient(std::string(kWhere) + "ended before any data (etcd closed the stream)");
  }
  if (!trailer_seen_) {
    throw Error::Transient(std::string(kWhere) + "cut after " + std::to_string(sent_) + " of " +
                           std::to_string(total_) + " bytes (etcd went away mid-snapshot?)");
  }
}

void GatewayStreamDecoder::HandleMessage(std::string_view line) {
  if (IsBlank(line)) return;
  nlohmann::json message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded() || !message.is_object()) {
    throw Error::Corrupt(std::string(kWhere) + "message is not a JSON object");
  }
  if (message.contains("error")) ThrowEtcdError(message);
  auto result = message.find("result");
  if (result == message.end() || !result->is_object()) {
    throw Error::Corrupt(std::string(kWhere) + "message has no \"result\" object");
  }
  uint64_t remaining = ParseRemaining(*result);
  blob_.clear();
  if (auto blob = result->find("blob"); blob != result->end()) {
    if (!blob->is_string()) throw Error::Corrupt(std::string(kWhere) + "blob is not a string");
    try {
      Base64DecodeAppend(blob->get_ref<const std::string&>(), blob_);
    } catch (const Error& e) {
      throw Error::Corrupt(std::string(kWhere) + "blob: " + e.what());
    }
  }

  if (trailer_seen_) {
    throw Error::Corrupt(std::string(kWhere) + "message after the SHA-256 trailer");
  }
  if (!started_) {
    started_ = true;
    total_ = remaining + blob_.size();
    if (total_ == 0) throw Error::Corrupt(std::string(kWhere) + "etcd announced an empty database");
  } else if (sent_ == total_) {
    // All data is in: this must be the trailer message.
    if (remaining != 0 || blob_.size() != kTrailerSize) {
      throw Error::Corrupt(std::string(kWhere) + "expected the 32-byte SHA-256 trailer, got " +
                           std::to_string(blob_.size()) + " bytes");
    }
    trailer_seen_ = true;
    out_.Write(blob_);
    return;
  }
  if (blob_.empty() || sent_ + blob_.size() > total_ ||
      remaining != total_ - sent_ - blob_.size()) {
    throw Error::Corrupt(std::string(kWhere) + "remaining_bytes " + std::to_string(remaining) +
                         " does not follow from " + std::to_string(sent_ + blob_.size()) + " of " +
                         std::to_string(total_) + " bytes");
  }
  sent_ += blob_.size();
  out_.Write(blob_);
}

}  // namespace snapd
