// Upload claim keys and values: SHA-256 for the destination id, JSON for the value.
#include "coordination/upload_claim.h"

#include <nlohmann/json.hpp>

#include "core/digest.h"

namespace snapd {

std::string S3DestinationId(std::string_view endpoint, std::string_view bucket,
                            std::string_view folder) {
  // NUL cannot occur in any of the three, so the joined text is unambiguous.
  std::string joined;
  joined.append(endpoint).push_back('\0');
  joined.append(bucket).push_back('\0');
  joined.append(folder);
  return Sha256::HexOf(joined).substr(0, 16);
}

std::string UploadClaimKey(std::string_view destination_id, int64_t fire_unix) {
  return std::string(kUploadClaimPrefix) + std::string(destination_id) + "/" +
         std::to_string(fire_unix);
}

std::string FormatUploadClaim(const UploadClaim& claim) {
  nlohmann::json value = {
      {"node", claim.node},
      {"snapshot", claim.snapshot},
      {"state", claim.state == UploadClaim::State::kReady ? "ready" : "uploading"}};
  return value.dump();
}

std::optional<UploadClaim> ParseUploadClaim(std::string_view text) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (!value.is_object()) return std::nullopt;
  auto node = value.find("node");
  auto snapshot = value.find("snapshot");
  auto state = value.find("state");
  if (node == value.end() || !node->is_string() || snapshot == value.end() ||
      !snapshot->is_string() || state == value.end() || !state->is_string()) {
    return std::nullopt;
  }
  UploadClaim claim;
  claim.node = *node;
  claim.snapshot = *snapshot;
  if (*state == "ready") {
    claim.state = UploadClaim::State::kReady;
  } else if (*state == "uploading") {
    claim.state = UploadClaim::State::kUploading;
  } else {
    return std::nullopt;
  }
  return claim;
}

ClaimFollowUp FollowUp(const std::optional<std::string>& current_value) {
  if (!current_value) return ClaimFollowUp::kTakeOver;
  std::optional<UploadClaim> claim = ParseUploadClaim(*current_value);
  // A value we cannot read is someone's claim all the same: it lives and dies with its lease.
  if (claim && claim->state == UploadClaim::State::kReady) return ClaimFollowUp::kDone;
  return ClaimFollowUp::kWait;
}

}  // namespace snapd
