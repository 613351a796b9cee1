// When an S3 request is worth repeating and how long to wait first: the classification of S3
// answers into error kinds, and exponential backoff with full jitter bounded by a deadline.
// Pure: the caller passes the time and the random numbers.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "core/error.h"

namespace snapd {

// The kind of error an S3 answer is: HTTP `status` with the error `code` of its XML body ("" if
// none, as for HEAD). 5xx, 408, 429 and codes such as SlowDown, RequestTimeout, InternalError
// are kTransient; NoSuchKey, NoSuchUpload and a bodiless 404 kNotFound; 412
// PreconditionFailed kConflict (an If-None-Match refusal); every other 4xx (AccessDenied,
// NoSuchBucket, SignatureDoesNotMatch, InvalidAccessKeyId, EntityTooSmall...) kPermanent.
ErrorKind ClassifyS3Error(long status, std::string_view code);

struct RetryPolicy {
  std::chrono::milliseconds first_delay{200};  // backoff ceiling of the first retry
  std::chrono::milliseconds max_delay{15000};  // the ceiling stops doubling here
  int max_attempts = 12;                       // attempts in all, the first included
};

class RetryBackoff {
 public:
  // Retries of one operation that must end by `deadline`.
  RetryBackoff(RetryPolicy policy, std::chrono::steady_clock::time_point deadline)
      : policy_(policy), deadline_(deadline) {}

  // Called after attempt number attempts()+1 failed with an error of `kind`, at `now`, with
  // `random` uniform in [0, 1). Returns how long to wait before the next attempt, or nullopt
  // when it should not be retried: the error is not transient, the attempts are used up, or
  // the wait would reach the deadline. The wait is uniform in [0, min(max_delay,
  // first_delay * 2^retry)) (full jitter: clients that failed together do not retry together).
  std::optional<std::chrono::milliseconds> NextDelay(ErrorKind kind,
                                                     std::chrono::steady_clock::time_point now,
                                                     double random);

  int attempts() const { return attempts_; }  // failed attempts so far
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }

 private:
  RetryPolicy policy_;
  std::chrono::steady_clock::time_point deadline_;
  int attempts_ = 0;
};

}  // namespace snapd
