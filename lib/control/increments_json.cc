// The JSON of point-in-time recovery's state and windows.
#include "control/increments_json.h"

#include <algorithm>

#include "core/time_format.h"

namespace snapd {

nlohmann::json RecorderStatusToJson(const RecorderStatus& status, int64_t now_ms) {
  nlohmann::json stores = nlohmann::json::array();
  for (const StoreChainStatus& s : status.stores) {
    nlohmann::json entry = {
        {"storage", s.storage},
        {"base", s.base},
        {"firstRevision", s.first_revision},
        {"firstTime", FormatRfc3339(s.first_unix)},
        {"lastRevision", s.last_revision},
        {"completeTime", FormatRfc3339(s.complete_unix_ms / 1000)},
        {"lagSeconds",
         std::max<double>(0, static_cast<double>(now_ms - s.complete_unix_ms) / 1000)},
    };
    if (!s.error.empty()) entry["error"] = s.error;
    stores.push_back(entry);
  }
  nlohmann::json out = {{"state", status.state}, {"stores", stores}};
  if (!status.last_error.empty()) out["lastError"] = status.last_error;
  return out;
}

nlohmann::json WindowToJson(const ChainWindow& window) {
  return {{"firstRevision", window.first_revision},
          {"firstTime", FormatRfc3339(window.first_unix)},
          {"lastRevision", window.last_revision},
          {"lastTime", FormatRfc3339(window.last_unix)},
          {"increments", window.increments.size()}};
}

void ExtendWindow(ChainWindow& window, const std::string& storage, const RecorderStatus& status) {
  for (const StoreChainStatus& s : status.stores) {
    if (s.storage != storage || s.base != window.base) continue;
    // Only what the store holds: the recorder's last written revision is the names' last one.
    if (s.last_revision == window.last_revision) {
      window.last_unix = std::max(window.last_unix, s.complete_unix_ms / 1000);
    }
  }
}

}  // namespace snapd
