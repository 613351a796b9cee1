// S3 error classification and jittered exponential backoff.
#include "s3/s3_retry.h"

#include <algorithm>
#include <array>

namespace snapd {
namespace {

// Codes AWS documents as "retry": the server was busy, slow or failed internally, or a
// conflicting operation on the same resource was still running.
constexpr std::array<std::string_view, 9> kTransientCodes = {
    "SlowDown",           "RequestTimeout",      "InternalError",
    "ServiceUnavailable", "OperationAborted",    "TooManyRequests",
    "Throttling",         "ThrottlingException", "RequestThrottled",
};

}  // namespace

ErrorKind ClassifyS3Error(long status, std::string_view code) {
  if (std::find(kTransientCodes.begin(), kTransientCodes.end(), code) != kTransientCodes.end()) {
    return ErrorKind::kTransient;
  }
  if (status >= 500 || status == 408 || status == 429) {
    // 501 NotImplemented will not change by waiting.
    return status == 501 ? ErrorKind::kPermanent : ErrorKind::kTransient;
  }
  if (code == "NoSuchKey" || code == "NoSuchUpload" || code == "NoSuchVersion") {
    return ErrorKind::kNotFound;
  }
  if (status == 404 && code.empty()) return ErrorKind::kNotFound;
  if (status == 412 || code == "PreconditionFailed") return ErrorKind::kConflict;
  // The server found the body it got did not match the Content-MD5 or SHA-256 we sent: damaged
  // on the way. Our copy is intact, so sending it again is the cure.
  if (code == "BadDigest" || code == "XAmzContentSHA256Mismatch") return ErrorKind::kTransient;
  return ErrorKind::kPermanent;
}

std::optional<std::chrono::milliseconds> RetryBackoff::NextDelay(
    ErrorKind kind, std::chrono::steady_clock::time_point now, double random) {
  using std::chrono::milliseconds;
  const int retry = attempts_++;
  if (kind != ErrorKind::kTransient) return std::nullopt;
  if (attempts_ >= policy_.max_attempts) return std::nullopt;
  milliseconds ceiling = policy_.first_delay;
  for (int i = 0; i < retry && ceiling < policy_.max_delay; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, policy_.max_delay);
  random = std::clamp(random, 0.0, 1.0);
  const milliseconds delay(static_cast<int64_t>(static_cast<double>(ceiling.count()) * random));
  if (now + delay >= deadline_) return std::nullopt;
  return delay;
}

}  // namespace snapd
