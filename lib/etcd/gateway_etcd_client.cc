// Snapshot and status through etcd's gRPC-gateway.
#include "etcd/gateway_etcd_client.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "etcd/gateway_stream_decoder.h"

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

void CheckStatus(const HttpResponse& response, const std::string& what) {
  if (response.status >= 200 && response.status < 300) return;
  ErrorKind kind = response.status >= 500 || response.status == 429 ? ErrorKind::kTransient
                                                                    : ErrorKind::kPermanent;
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
HttpResponse PerformChecked(const HttpRequest& request, const std::string& what) {
  HttpResponse response;
  try {
    response = HttpClient().Perform(request);
  } catch (const Error& e) {
    throw e.WithContext(what);
  }
  CheckStatus(response, what);
  return response;
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
  request.timeout = timeout;
  request.connect_timeout = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  if (request.connect_timeout.count() < 1) request.connect_timeout = std::chrono::seconds(1);
  HttpResponse response = PerformChecked(request, what);
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object()) throw Error::Corrupt(what + ": answer is not a JSON object");
  EtcdStatus status;
  if (auto it = body.find("version"); it != body.end() && it->is_string()) status.version = *it;
  status.db_size = Number(body, "dbSize");
  status.leader = Number(body, "leader");
  status.raft_index = Number(body, "raftIndex");
  if (auto h = body.find("header"); h != body.end() && h->is_object()) {
    status.member_id = Number(*h, "member_id");
  }
  return status;
}

}  // namespace snapd
