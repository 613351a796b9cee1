// gRPC calls (Maintenance/Snapshot, Maintenance/Status, Watch/Watch, and the KV, Lease and
// Cluster calls) and the transport choice.
#include "etcd/grpc_etcd_client.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <exception>

#include "core/error.h"
#include "etcd/gateway_etcd_client.h"
#include "etcd/grpc_messages.h"
#include "etcd/grpc_snapshot_decoder.h"
#include "etcd/grpc_watch_decoder.h"
#include "etcd/protobuf_wire.h"

namespace snapd {
namespace {

// An empty request message (SnapshotRequest and StatusRequest have no fields).
constexpr std::string_view kEmptyMessage("\0\0\0\0\0", 5);

// grpc-message is percent-encoded (gRPC over HTTP/2 spec).
std::string PercentDecoded(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(text[i + 1]) &&
        std::isxdigit(text[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (static_cast<unsigned char>(text[i]) >= 0x20) {
      out += text[i];
    }
  }
  return out.substr(0, 300);
}

// Errors the gRPC layer reports: an HTTP status other than 200 (not a gRPC server), a missing
// grpc-status (the stream was cut before its trailers), or a non-zero one (etcd's error).
void CheckGrpcStatus(const HttpResponse& response, const std::string& what) {
  if (response.status != 200) {
    throw Error::Permanent(what + ": HTTP " + std::to_string(response.status) +
                           " (not a gRPC answer)");
  }
  const std::string status = response.Header("grpc-status");
  if (status.empty()) {
    throw Error::Transient(what + ": the answer ended without a gRPC status (cut?)");
  }
  int code = -1;
  try {
    code = std::stoi(status);
  } catch (const std::exception&) {
  }
  if (code == 0) return;
  const std::string message = PercentDecoded(response.Header("grpc-message"));
  throw Error(EtcdErrorKind(code),
              what + ": etcd answered an error: " + (message.empty() ? "(no message)" : message) +
                  " (grpc code " + status + ")");
}

HttpResponse Perform(const HttpRequest& request, const std::string& what) {
  try {
    return HttpClient().Perform(request);
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
}

// Collects a unary call's one response message.
class UnaryResponseSink final : public ByteSink {
 public:
  void Write(std::string_view chunk) override {
    frames_.Feed(chunk, [this](std::string_view message) {
      if (++count_ > 1) throw Error::Corrupt("etcd gRPC: more than one response message");
      message_.assign(message);
    });
  }
  const std::string& message() const { return message_; }
  bool complete() const { return count_ == 1 && frames_.AtBoundary(); }

 private:
  GrpcFrameReader frames_;
  std::string message_;
  int count_ = 0;
};

// Runs `parse`, naming `what` in its errors.
template <typename Parse>
auto Parsed(const std::string& what, Parse&& parse) {
  try {
    return parse();
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
}

}  // namespace

EtcdStatus ParseStatusResponse(std::string_view message) {
  EtcdStatus status;
  ProtobufReader reader(message);
  ProtobufField field;
  while (reader.Next(field)) {
    switch (field.number) {
      case 1:
        if (field.wire_type == 2) {
          ProtobufReader header(field.bytes_value);
          ProtobufField h;
          while (header.Next(h)) {
            if (h.number == 2 && h.wire_type == 0) status.member_id = h.number_value;
          }
        }
        break;
      case 2:
        if (field.wire_type == 2) status.version.assign(field.bytes_value);
        break;
      case 3:
        if (field.wire_type == 0) status.db_size = field.number_value;
        break;
      case 4:
        if (field.wire_type == 0) status.leader = field.number_value;
        break;
      case 5:
        if (field.wire_type == 0) status.raft_index = field.number_value;
        break;
      case 10:
        if (field.wire_type == 0) status.is_learner = field.number_value != 0;
        break;
      default:
        break;
    }
  }
  return status;
}

HttpRequest GrpcEtcdClient::MakeRequest(const std::string& method, std::string_view body) const {
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint_.url + "/etcdserverpb." + method;
  request.headers = {{"Content-Type", "application/grpc"}, {"TE", "trailers"}};
  request.body = body;
  request.tls = endpoint_.tls;
  request.proxy = "none";  // etcd is local; an HTTP(S)_PROXY meant for S3 must not catch it
  request.http2 = true;
  return request;
}

void GrpcEtcdClient::Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                              const std::function<void(uint64_t)>& on_size) {
  const std::string what = "etcd snapshot from " + endpoint_.url + " (gRPC)";
  GrpcSnapshotDecoder decoder(sink);
  struct DecoderSink final : ByteSink {
    DecoderSink(GrpcSnapshotDecoder& d, const std::function<void(uint64_t)>& s)
        : decoder(d), on_size(s) {}
    void Write(std::string_view chunk) override {
      decoder.Feed(chunk);
      // The first message announces the database size; the stream adds the trailer to it.
      if (!size_reported && decoder.started()) {
        size_reported = true;
        if (on_size) on_size(decoder.database_size() + SnapshotSequence::kTrailerSize);
      }
    }
    GrpcSnapshotDecoder& decoder;
    const std::function<void(uint64_t)>& on_size;
    bool size_reported = false;
  } decoder_sink(decoder, on_size);

  HttpRequest request = MakeRequest("Maintenance/Snapshot", kEmptyMessage);
  request.response_sink = &decoder_sink;
  request.cancel = cancel;
  request.stall_timeout = endpoint_.stall_timeout;
  HttpResponse response = Perform(request, what);
  CheckGrpcStatus(response, what);
  try {
    decoder.Finish();
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
}

void GrpcEtcdClient::WatchAll(int64_t start_revision, const std::atomic<bool>& stop,
                              const std::function<void(EtcdWatchResponse&&)>& on_response) {
  const std::string what = "etcd at " + endpoint_.url + " (gRPC)";
  // on_response's exceptions end the transfer (the sink throws) and propagate unchanged.
  std::exception_ptr callback_error;
  GrpcWatchDecoder decoder(start_revision, [&](EtcdWatchResponse&& response) {
    try {
      on_response(std::move(response));
    } catch (...) {
      callback_error = std::current_exception();
      throw;
    }
  });
  struct DecoderSink final : ByteSink {
    explicit DecoderSink(GrpcWatchDecoder& d) : decoder(d) {}
    void Write(std::string_view chunk) override { decoder.Feed(chunk); }
    GrpcWatchDecoder& decoder;
  } decoder_sink(decoder);

  // One create request, then the request side ends: etcd keeps the watch until the stream's
  // context ends (its recvLoop takes EOF as no error).
  const std::string body = etcdpb::Framed(etcdpb::WatchAllRequest(start_revision));
  HttpRequest request = MakeRequest("Watch/Watch", body);
  request.response_sink = &decoder_sink;
  request.cancel = &stop;
  // An idle watch is normal: no stall timeout, but keepalive probes notice a vanished peer.
  request.stall_timeout = std::chrono::seconds(0);
  request.tcp_keepalive = true;
  HttpResponse response;
  try {
    response = Perform(request, what);
  } catch (...) {
    if (callback_error) std::rethrow_exception(callback_error);
    if (stop.load()) return;
    throw;
  }
  if (stop.load()) return;
  CheckGrpcStatus(response, what);
  throw Error::Transient(what + ": the watch from revision " + std::to_string(start_revision) +
                         " ended");
}

EtcdStatus GrpcEtcdClient::Status(std::chrono::milliseconds timeout) {
  const std::string what = "etcd status from " + endpoint_.url + " (gRPC)";
  const std::string message = *Call("Maintenance/Status", "", timeout, what);
  return Parsed(what, [&] { return ParseStatusResponse(message); });
}

std::string GrpcEtcdClient::What(std::string_view call) const {
  return "etcd " + std::string(call) + " at " + endpoint_.url + " (gRPC)";
}

std::optional<std::string> GrpcEtcdClient::Call(const std::string& method, std::string_view message,
                                                std::chrono::milliseconds timeout,
                                                const std::string& what, int tolerated_code,
                                                std::string_view tolerated_message) {
  const std::string framed = etcdpb::Framed(message);
  UnaryResponseSink body;
  HttpRequest request = MakeRequest(method, framed);
  request.response_sink = &body;
  request.timeout = timeout;
  request.connect_timeout = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  if (request.connect_timeout.count() < 1) request.connect_timeout = std::chrono::seconds(1);
  HttpResponse response = Perform(request, what);
  if (tolerated_code >= 0 && response.status == 200 &&
      response.Header("grpc-status") == std::to_string(tolerated_code) &&
      PercentDecoded(response.Header("grpc-message")).find(tolerated_message) !=
          std::string::npos) {
    return std::nullopt;
  }
  CheckGrpcStatus(response, what);
  if (!body.complete()) throw Error::Corrupt(what + ": no complete response message");
  return body.message();
}

std::vector<EtcdMember> GrpcEtcdClient::MemberList(std::chrono::milliseconds timeout) {
  const std::string what = What("member list");
  const std::string message = *Call("Cluster/MemberList", "", timeout, what);
  return Parsed(what, [&] { return etcdpb::ParseMemberListResponse(message); });
}

int64_t GrpcEtcdClient::LeaseGrant(int64_t ttl_seconds, std::chrono::milliseconds timeout) {
  const std::string what = What("lease grant");
  const std::string message =
      *Call("Lease/LeaseGrant", etcdpb::LeaseGrantRequest(ttl_seconds), timeout, what);
  return Parsed(what, [&] { return etcdpb::ParseLeaseGrantResponse(message); });
}

int64_t GrpcEtcdClient::LeaseKeepAliveOnce(int64_t lease_id, std::chrono::milliseconds timeout) {
  const std::string what = What("keepalive of lease " + std::to_string(lease_id));
  // A bidirectional stream: one request, the request side ends, etcd answers it and then ends
  // the stream with status 0.
  const std::string message =
      *Call("Lease/LeaseKeepAlive", etcdpb::LeaseIdRequest(lease_id), timeout, what);
  return Parsed(what, [&] { return etcdpb::ParseLeaseKeepAliveResponse(message); });
}

void GrpcEtcdClient::LeaseRevoke(int64_t lease_id, std::chrono::milliseconds timeout) {
  const std::string what = What("revoke of lease " + std::to_string(lease_id));
  // NOT_FOUND: the lease expired or was revoked already, which is what was asked.
  Call("Lease/LeaseRevoke", etcdpb::LeaseIdRequest(lease_id), timeout, what, 5);
}

EtcdKvHash GrpcEtcdClient::HashKV(int64_t revision, std::chrono::milliseconds timeout) {
  const std::string what = What("HashKV at revision " + std::to_string(revision));
  const std::string message =
      *Call("Maintenance/HashKV", etcdpb::HashKVRequest(revision), timeout, what);
  return Parsed(what, [&] { return etcdpb::ParseHashKVResponse(message, revision); });
}

EtcdClaim GrpcEtcdClient::PutIfAbsent(std::string_view key, std::string_view value,
                                      int64_t lease_id, std::chrono::milliseconds timeout) {
  const std::string what = What("put-if-absent of " + EtcdKeyForMessage(key));
  const std::string message =
      *Call("KV/Txn", etcdpb::PutIfAbsentTxn(key, value, lease_id), timeout, what);
  return Parsed(what,
                [&] { return etcdpb::ParsePutIfAbsentResponse(message, key, value, lease_id); });
}

std::optional<EtcdKeyValue> GrpcEtcdClient::Get(std::string_view key,
                                                std::chrono::milliseconds timeout) {
  const std::string what = What("get of " + EtcdKeyForMessage(key));
  const std::string message = *Call("KV/Range", etcdpb::RangeRequest(key), timeout, what);
  std::vector<EtcdKeyValue> kvs = Parsed(what, [&] { return etcdpb::ParseRangeResponse(message); });
  if (kvs.size() > 1) throw Error::Corrupt(what + ": " + std::to_string(kvs.size()) + " keys");
  if (kvs.empty()) return std::nullopt;
  return std::move(kvs.front());
}

void GrpcEtcdClient::Put(std::string_view key, std::string_view value, int64_t lease_id,
                         std::chrono::milliseconds timeout) {
  const std::string what = What("put of " + EtcdKeyForMessage(key));
  Call("KV/Put", etcdpb::PutRequest(key, value, lease_id), timeout, what);
}

bool GrpcEtcdClient::DeleteIfValue(std::string_view key, std::string_view expected_value,
                                   std::chrono::milliseconds timeout) {
  const std::string what = What("delete-if-value of " + EtcdKeyForMessage(key));
  const std::string message =
      *Call("KV/Txn", etcdpb::DeleteIfValueTxn(key, expected_value), timeout, what);
  return Parsed(what, [&] { return etcdpb::ParseDeleteIfValueResponse(message); });
}

std::vector<EtcdKeyValue> GrpcEtcdClient::GetPrefix(std::string_view prefix,
                                                    std::chrono::milliseconds timeout) {
  const std::string what = What("get of prefix " + EtcdKeyForMessage(prefix));
  const std::string range_end = Parsed(what, [&] { return EtcdPrefixEnd(prefix); });
  const std::string message =
      *Call("KV/Range", etcdpb::RangeRequest(prefix, range_end), timeout, what);
  return Parsed(what, [&] { return etcdpb::ParseRangeResponse(message); });
}

int64_t GrpcEtcdClient::DeletePrefix(std::string_view prefix, std::chrono::milliseconds timeout) {
  const std::string what = What("delete of prefix " + EtcdKeyForMessage(prefix));
  const std::string range_end = Parsed(what, [&] { return EtcdPrefixEnd(prefix); });
  const std::string message =
      *Call("KV/DeleteRange", etcdpb::DeleteRangeRequest(prefix, range_end), timeout, what);
  return Parsed(what, [&] { return etcdpb::ParseDeleteRangeResponse(message); });
}

AutoEtcdClient::AutoEtcdClient(EtcdEndpoint endpoint)
    : grpc_(std::make_unique<GrpcEtcdClient>(endpoint)),
      gateway_(std::make_unique<GatewayEtcdClient>(std::move(endpoint))) {}

AutoEtcdClient::~AutoEtcdClient() = default;

std::string AutoEtcdClient::transport() const {
  std::lock_guard lock(mutex_);
  return chosen_;
}

EtcdClient& AutoEtcdClient::Decide() {
  {
    std::lock_guard lock(mutex_);
    if (chosen_ == "grpc") return *grpc_;
    if (chosen_ == "gateway") return *gateway_;
  }
  std::string chosen;
  try {
    grpc_->Status(std::chrono::seconds(5));
    chosen = "grpc";
  } catch (const Error& grpc_error) {
    // gRPC failed: the gateway answering shows it is the transport here (an HTTP/1.1-only
    // proxy in between resets HTTP/2); both failing means etcd is away: decide later.
    try {
      gateway_->Status(std::chrono::seconds(5));
    } catch (const Error&) {
      return *grpc_;
    }
    chosen = "gateway: gRPC failed (" + std::string(grpc_error.what()) + ")";
  }
  std::lock_guard lock(mutex_);
  if (chosen_.empty()) {
    spdlog::info("etcd transport: {}", chosen);
    chosen_ = chosen.substr(0, chosen.find(':'));
  }
  if (chosen_ == "grpc") return *grpc_;
  return *gateway_;
}

EtcdCoordinationClient& AutoEtcdClient::DecideCoordination() {
  if (&Decide() == static_cast<EtcdClient*>(grpc_.get())) return *grpc_;
  return *gateway_;
}

void AutoEtcdClient::Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                              const std::function<void(uint64_t)>& on_size) {
  Decide().Snapshot(sink, cancel, on_size);
}

EtcdStatus AutoEtcdClient::Status(std::chrono::milliseconds timeout) {
  return Decide().Status(timeout);
}

std::vector<EtcdMember> AutoEtcdClient::MemberList(std::chrono::milliseconds timeout) {
  return DecideCoordination().MemberList(timeout);
}

int64_t AutoEtcdClient::LeaseGrant(int64_t ttl_seconds, std::chrono::milliseconds timeout) {
  return DecideCoordination().LeaseGrant(ttl_seconds, timeout);
}

int64_t AutoEtcdClient::LeaseKeepAliveOnce(int64_t lease_id, std::chrono::milliseconds timeout) {
  return DecideCoordination().LeaseKeepAliveOnce(lease_id, timeout);
}

void AutoEtcdClient::LeaseRevoke(int64_t lease_id, std::chrono::milliseconds timeout) {
  DecideCoordination().LeaseRevoke(lease_id, timeout);
}

EtcdKvHash AutoEtcdClient::HashKV(int64_t revision, std::chrono::milliseconds timeout) {
  return DecideCoordination().HashKV(revision, timeout);
}

EtcdClaim AutoEtcdClient::PutIfAbsent(std::string_view key, std::string_view value,
                                      int64_t lease_id, std::chrono::milliseconds timeout) {
  return DecideCoordination().PutIfAbsent(key, value, lease_id, timeout);
}

std::optional<EtcdKeyValue> AutoEtcdClient::Get(std::string_view key,
                                                std::chrono::milliseconds timeout) {
  return DecideCoordination().Get(key, timeout);
}

void AutoEtcdClient::Put(std::string_view key, std::string_view value, int64_t lease_id,
                         std::chrono::milliseconds timeout) {
  DecideCoordination().Put(key, value, lease_id, timeout);
}

bool AutoEtcdClient::DeleteIfValue(std::string_view key, std::string_view expected_value,
                                   std::chrono::milliseconds timeout) {
  return DecideCoordination().DeleteIfValue(key, expected_value, timeout);
}

std::vector<EtcdKeyValue> AutoEtcdClient::GetPrefix(std::string_view prefix,
                                                    std::chrono::milliseconds timeout) {
  return DecideCoordination().GetPrefix(prefix, timeout);
}

int64_t AutoEtcdClient::DeletePrefix(std::string_view prefix, std::chrono::milliseconds timeout) {
  return DecideCoordination().DeletePrefix(prefix, timeout);
}

}  // namespace snapd
