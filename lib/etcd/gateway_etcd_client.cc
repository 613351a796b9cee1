// Snapshot, status, and the key-value, lease and cluster calls through etcd's gRPC-gateway.
#include "etcd/gateway_etcd_client.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "etcd/gateway_messages.h"
#include "etcd/gateway_stream_decoder.h"
#include "etcd/snapshot_sequence.h"

namespace snapd {
namespace {

// The gateway's error body: {"error":"...","code":N,"message":"..."} (3.4) or
// {"error":{...}}; either way pick out a readable message.
std::string GatewayErrorText(const HttpResponse& response) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  std::string text;
  if (body.is_object()) {
    for (const char* key : {"message", "error"}) {
      auto it = body.find(key);
      if (it != body.end() && it->is_string() && !it->get<std::string>().empty()) {
        text = *it;
        break;
      }
      if (it != body.end() && it->is_object() && it->contains("message")) {
        text = (*it)["message"].is_string() ? (*it)["message"].get<std::string>() : "";
        break;
      }
    }
  }
  if (text.empty()) text = response.body.substr(0, 200);
  return "HTTP " + std::to_string(response.status) + (text.empty() ? "" : ": " + text);
}

// The gRPC code of the gateway's error body ({"code":N,...}), or -1.
int GatewayErrorCode(const HttpResponse& response) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object()) return -1;
  auto it = body.find("code");
  return it != body.end() && it->is_number_integer() ? it->get<int>() : -1;
}

void CheckStatus(const HttpResponse& response, const std::string& what) {
  if (response.status >= 200 && response.status < 300) return;
  ErrorKind kind = response.status >= 500 || response.status == 429 ? ErrorKind::kTransient
                                                                    : ErrorKind::kPermanent;
  if (GatewayErrorCode(response) == 5) kind = ErrorKind::kNotFound;  // a lease etcd does not know
  throw Error(kind, what + ": " + GatewayErrorText(response));
}

uint64_t Number(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_string()) {
    try {
      return std::stoull(it->get<std::string>());
    } catch (const std::exception&) {
    }
  }
  return 0;
}

// Performs `request`, naming `what` in transport errors and in non-2xx answers.
HttpResponse Perform(const HttpRequest& request, const std::string& what) {
  try {
    return HttpClient().Perform(request);
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
}

HttpResponse PerformChecked(const HttpRequest& request, const std::string& what) {
  HttpResponse response = Perform(request, what);
  CheckStatus(response, what);
  return response;
}

void SetTimeout(HttpRequest& request, std::chrono::milliseconds timeout) {
  request.timeout = timeout;
  request.connect_timeout = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  if (request.connect_timeout.count() < 1) request.connect_timeout = std::chrono::seconds(1);
}

// Collects an answer's body, refusing one over kMaxSize (HttpResponse::body would cut it).
class BoundedStringSink final : public ByteSink {
 public:
  static constexpr size_t kMaxSize = 64 << 20;
  void Write(std::string_view chunk) override {
    if (chunk.size() > kMaxSize - body.size()) {
      throw Error::Permanent("etcd's answer is over " + std::to_string(kMaxSize >> 20) + " MiB");
    }
    body.append(chunk);
  }
  std::string body;
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

HttpRequest GatewayEtcdClient::MakeRequest(const std::string& path) const {
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint_.url + path;
  request.headers = {{"Content-Type", "application/json"}};
  request.body = "{}";
  request.tls = endpoint_.tls;
  request.proxy = "none";  // etcd is local; an HTTP(S)_PROXY meant for S3 must not catch it
  return request;
}

void GatewayEtcdClient::Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                                 const std::function<void(uint64_t)>& on_size) {
  std::string what = "etcd snapshot from " + endpoint_.url;
  GatewayStreamDecoder decoder(sink);
  struct DecoderSink final : ByteSink {
    DecoderSink(GatewayStreamDecoder& d, const std::function<void(uint64_t)>& s)
        : decoder(d), on_size(s) {}
    void Write(std::string_view chunk) override {
      decoder.Feed(chunk);
      // The first message announces the database size; the stream adds the trailer to it.
      if (!size_reported && decoder.database_size() > 0) {
        size_reported = true;
        if (on_size) on_size(decoder.database_size() + GatewayStreamDecoder::kTrailerSize);
      }
    }
    GatewayStreamDecoder& decoder;
    const std::function<void(uint64_t)>& on_size;
    bool size_reported = false;
  } decoder_sink(decoder, on_size);

  HttpRequest request = MakeRequest("/v3/maintenance/snapshot");
  request.response_sink = &decoder_sink;
  request.cancel = cancel;
  request.stall_timeout = endpoint_.stall_timeout;
  PerformChecked(request, what);
  try {
    decoder.Finish();
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
}

EtcdStatus GatewayEtcdClient::Status(std::chrono::milliseconds timeout) {
  std::string what = "etcd status from " + endpoint_.url;
  HttpRequest request = MakeRequest("/v3/maintenance/status");
  SetTimeout(request, timeout);
  HttpResponse response = PerformChecked(request, what);
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object()) throw Error::Corrupt(what + ": answer is not a JSON object");
  EtcdStatus status;
  if (auto it = body.find("version"); it != body.end() && it->is_string()) status.version = *it;
  status.db_size = Number(body, "dbSize");
  status.leader = Number(body, "leader");
  status.raft_index = Number(body, "raftIndex");
  if (auto it = body.find("isLearner"); it != body.end() && it->is_boolean()) {
    status.is_learner = it->get<bool>();
  }
  if (auto h = body.find("header"); h != body.end() && h->is_object()) {
    status.member_id = Number(*h, "member_id");
  }
  return status;
}

std::string GatewayEtcdClient::What(std::string_view call) const {
  return "etcd " + std::string(call) + " at " + endpoint_.url;
}

std::optional<std::string> GatewayEtcdClient::Call(const std::string& path, std::string_view body,
                                                   std::chrono::milliseconds timeout,
                                                   const std::string& what, int tolerated_code) {
  BoundedStringSink answer;
  HttpRequest request = MakeRequest(path);
  request.body = body;
  request.response_sink = &answer;
  SetTimeout(request, timeout);
  HttpResponse response = Perform(request, what);
  if (tolerated_code >= 0 && (response.status < 200 || response.status >= 300) &&
      GatewayErrorCode(response) == tolerated_code) {
    return std::nullopt;
  }
  CheckStatus(response, what);
  return std::move(answer.body);
}

std::vector<EtcdMember> GatewayEtcdClient::MemberList(std::chrono::milliseconds timeout) {
  const std::string what = What("member list");
  const std::string body = *Call("/v3/cluster/member/list", "{}", timeout, what);
  return Parsed(what, [&] { return etcdjson::ParseMemberListResponse(body); });
}

int64_t GatewayEtcdClient::LeaseGrant(int64_t ttl_seconds, std::chrono::milliseconds timeout) {
  const std::string what = What("lease grant");
  const std::string body =
      *Call("/v3/lease/grant", etcdjson::LeaseGrantRequest(ttl_seconds), timeout, what);
  return Parsed(what, [&] { return etcdjson::ParseLeaseGrantResponse(body); });
}

int64_t GatewayEtcdClient::LeaseKeepAliveOnce(int64_t lease_id, std::chrono::milliseconds timeout) {
  const std::string what = What("keepalive of lease " + std::to_string(lease_id));
  // A stream: one request, the request body ends, one {"result":{...}} answers it.
  const std::string body =
      *Call("/v3/lease/keepalive", etcdjson::LeaseIdRequest(lease_id), timeout, what);
  return Parsed(what, [&] { return etcdjson::ParseLeaseKeepAliveResponse(body); });
}

void GatewayEtcdClient::LeaseRevoke(int64_t lease_id, std::chrono::milliseconds timeout) {
  const std::string what = What("revoke of lease " + std::to_string(lease_id));
  // NOT_FOUND: the lease expired or was revoked already, which is what was asked.
  Call("/v3/lease/revoke", etcdjson::LeaseIdRequest(lease_id), timeout, what, 5);
}

EtcdClaim GatewayEtcdClient::PutIfAbsent(std::string_view key, std::string_view value,
                                         int64_t lease_id, std::chrono::milliseconds timeout) {
  const std::string what = What("put-if-absent of " + EtcdKeyForMessage(key));
  const std::string body =
      *Call("/v3/kv/txn", etcdjson::PutIfAbsentTxn(key, value, lease_id), timeout, what);
  return Parsed(what,
                [&] { return etcdjson::ParsePutIfAbsentResponse(body, key, value, lease_id); });
}

std::optional<EtcdKeyValue> GatewayEtcdClient::Get(std::string_view key,
                                                   std::chrono::milliseconds timeout) {
  const std::string what = What("get of " + EtcdKeyForMessage(key));
  const std::string body = *Call("/v3/kv/range", etcdjson::RangeRequest(key), timeout, what);
  std::vector<EtcdKeyValue> kvs = Parsed(what, [&] { return etcdjson::ParseRangeResponse(body); });
  if (kvs.size() > 1) throw Error::Corrupt(what + ": " + std::to_string(kvs.size()) + " keys");
  if (kvs.empty()) return std::nullopt;
  return std::move(kvs.front());
}

void GatewayEtcdClient::Put(std::string_view key, std::string_view value, int64_t lease_id,
                            std::chrono::milliseconds timeout) {
  const std::string what = What("put of " + EtcdKeyForMessage(key));
  Call("/v3/kv/put", etcdjson::PutRequest(key, value, lease_id), timeout, what);
}

bool GatewayEtcdClient::DeleteIfValue(std::string_view key, std::string_view expected_value,
                                      std::chrono::milliseconds timeout) {
  const std::string what = What("delete-if-value of " + EtcdKeyForMessage(key));
  const std::string body =
      *Call("/v3/kv/txn", etcdjson::DeleteIfValueTxn(key, expected_value), timeout, what);
  return Parsed(what, [&] { return etcdjson::ParseDeleteIfValueResponse(body); });
}

std::vector<EtcdKeyValue> GatewayEtcdClient::GetPrefix(std::string_view prefix,
                                                       std::chrono::milliseconds timeout) {
  const std::string what = What("get of prefix " + EtcdKeyForMessage(prefix));
  const std::string range_end = Parsed(what, [&] { return EtcdPrefixEnd(prefix); });
  const std::string body =
      *Call("/v3/kv/range", etcdjson::RangeRequest(prefix, range_end), timeout, what);
  return Parsed(what, [&] { return etcdjson::ParseRangeResponse(body); });
}

int64_t GatewayEtcdClient::DeletePrefix(std::string_view prefix,
                                        std::chrono::milliseconds timeout) {
  const std::string what = What("delete of prefix " + EtcdKeyForMessage(prefix));
  const std::string range_end = Parsed(what, [&] { return EtcdPrefixEnd(prefix); });
  const std::string body =
      *Call("/v3/kv/deleterange", etcdjson::DeleteRangeRequest(prefix, range_end), timeout, what);
  return Parsed(what, [&] { return etcdjson::ParseDeleteRangeResponse(body); });
}

EtcdKvHash GatewayEtcdClient::HashKV(int64_t revision, std::chrono::milliseconds timeout) {
  const std::string what = What("HashKV at revision " + std::to_string(revision));
  // etcd 3.4's gateway routes /v3/maintenance/hashkv nowhere (it answers 404 in plain text);
  // 3.5 added the route.
  constexpr int kNoRoute = 404;
  std::optional<std::string> body;
  try {
    body = Call("/v3/maintenance/hashkv", etcdjson::HashKVRequest(revision), timeout, what);
  } catch (const Error& e) {
    if (std::string_view(e.what()).find("HTTP " + std::to_string(kNoRoute)) ==
        std::string_view::npos) {
      throw;
    }
    throw Error::Permanent(what + ": this etcd's gateway has no HashKV (etcd 3.4); its gRPC has");
  }
  return Parsed(what, [&] { return etcdjson::ParseHashKVResponse(*body, revision); });
}

}  // namespace snapd
