// The control API's JSON answers and strict request bodies.
#include "control/api_body.h"

#include "core/error.h"

namespace snapd {

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiResponse Json(int status, const nlohmann::json& body) {
  ApiResponse response;
  response.status = status;
  response.body = DumpJson(body) + "\n";
  return response;
}

ApiResponse ErrorResponse(int status, const std::string& message, std::string_view kind) {
  return Json(status, {{"error", message}, {"kind", kind}});
}

nlohmann::json ObjectBody(const ApiRequest& request, std::initializer_list<const char*> allowed) {
  if (request.body.empty()) return nlohmann::json::object();
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded()) throw Error::InvalidInput("request body is not valid JSON");
  if (!body.is_object()) throw Error::InvalidInput("request body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) throw Error::InvalidInput("unknown field \"" + key + "\" in request body");
  }
  return body;
}

std::string StringField(const nlohmann::json& body, const char* key, bool required) {
  auto it = body.find(key);
  if (it == body.end()) {
    if (required) throw Error::InvalidInput(std::string("\"") + key + "\" (a string) is required");
    return "";
  }
  if (!it->is_string()) throw Error::InvalidInput(std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

bool BoolField(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end()) return false;
  if (!it->is_boolean()) {
    throw Error::InvalidInput(std::string("\"") + key + "\" must be true or false");
  }
  return it->get<bool>();
}

std::string StorageField(const nlohmann::json& body, const char* key) {
  std::string storage = StringField(body, key, false);
  if (!storage.empty() && storage != "local" && storage != "s3") {
    throw Error::InvalidInput(std::string("\"") + key + "\" must be local or s3, got \"" + storage +
                              "\"");
  }
  return storage;
}

}  // namespace snapd
