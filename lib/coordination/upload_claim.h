// The claims servers race for in etcd so that one of them uploads a scheduled run to an S3
// destination: their keys and values, and what a server does on finding one. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace snapd {

inline constexpr std::string_view kUploadClaimPrefix = "/k3s-snapd/upload-claims/";

// Names one S3 destination (endpoint, bucket, folder) in 16 hex digits: servers that upload to
// different buckets or folders never compete, the same ones always do.
std::string S3DestinationId(std::string_view endpoint, std::string_view bucket,
                            std::string_view folder);

// `<prefix><destination>/<fire time, unix seconds>`: one key per scheduled run and destination.
std::string UploadClaimKey(std::string_view destination_id, int64_t fire_unix);

struct UploadClaim {
  enum class State { kUploading, kReady };
  std::string node;      // the server holding it
  std::string snapshot;  // the snapshot it uploads (or uploaded)
  State state = State::kUploading;
};

// One JSON object; Parse gives nullopt for anything else (never throws: a foreign or damaged
// value is treated as a claim of unknown state by the caller).
std::string FormatUploadClaim(const UploadClaim& claim);
std::optional<UploadClaim> ParseUploadClaim(std::string_view value);

// What a server that did not win the claim does with what the claim key holds now.
enum class ClaimFollowUp {
  kDone,      // ready: the run is in S3
  kWait,      // another server is uploading: look again later
  kTakeOver,  // the key is gone (its holder died or gave up before ready): claim it again
};
ClaimFollowUp FollowUp(const std::optional<std::string>& current_value);

}  // namespace snapd
