// Point-in-time recovery in the API's JSON: the recorder's state for status, and a base's
// recoverable window for ls.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "incremental/increment_chain.h"
#include "incremental/increment_recorder.h"

namespace snapd {

// {"state", "lastError"?, "stores": [{"storage", "base", "firstRevision", "firstTime",
// "lastRevision", "completeTime", "lagSeconds", "error"?}]}; times RFC 3339.
nlohmann::json RecorderStatusToJson(const RecorderStatus& status, int64_t now_ms);

// {"firstRevision", "firstTime", "lastRevision", "lastTime", "increments"}.
nlohmann::json WindowToJson(const ChainWindow& window);

// Extends `window` with what the recorder knows beyond the stored names: the live chain of the
// same base and store is complete up to its complete time (an idle cluster writes nothing).
void ExtendWindow(ChainWindow& window, const std::string& storage, const RecorderStatus& status);

}  // namespace snapd
