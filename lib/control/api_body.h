// The control API's JSON on the wire: answers as JSON, and request bodies read strictly (unknown
// fields and wrong types refused with a message naming the field).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/api_message.h"

namespace snapd {

// Names, paths and targets are bytes, not always UTF-8: such bytes are shown as U+FFFD rather
// than failing the whole answer (a strict dump throws, and the request got a 500).
std::string DumpJson(const nlohmann::json& value);
ApiResponse Json(int status, const nlohmann::json& body);
ApiResponse ErrorResponse(int status, const std::string& message, std::string_view kind);

// Parses a JSON object body (empty means {}), refusing fields not in `allowed`.
nlohmann::json ObjectBody(const ApiRequest& request, std::initializer_list<const char*> allowed);

// Field `key` of `body` as a string; "" when absent unless `required`. Throws InvalidInput.
std::string StringField(const nlohmann::json& body, const char* key, bool required);
// Field `key` as a boolean; false when absent. Throws InvalidInput for anything but a boolean.
bool BoolField(const nlohmann::json& body, const char* key);
// The optional "storage" field: "", "local" or "s3".
std::string StorageField(const nlohmann::json& body, const char* key = "storage");

}  // namespace snapd
