// The one error type of k3s-snapd: a message with context and a kind that drives retries,
// HTTP statuses and exit codes.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace snapd {

enum class ErrorKind {
  kInvalidInput,      // the caller asked for something malformed: fix the request, do not retry
  kNotFound,          // the named thing does not exist
  kConflict,          // refused because of current state (a job is running, name taken)
  kTransient,         // may succeed if retried (timeouts, resets, 5xx)
  kPermanent,         // will fail again the same way (access denied, no such bucket)
  kCorrupt,           // data failed an integrity check
  kCancelled,         // stopped on request (shutdown, user cancel)
  kPermissionDenied,  // the caller may not do this (control socket access): ask someone who may
};

std::string_view ErrorKindName(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}

  ErrorKind kind() const { return kind_; }

  static Error InvalidInput(const std::string& m) { return Error(ErrorKind::kInvalidInput, m); }
  static Error NotFound(const std::string& m) { return Error(ErrorKind::kNotFound, m); }
  static Error Conflict(const std::string& m) { return Error(ErrorKind::kConflict, m); }
  static Error Transient(const std::string& m) { return Error(ErrorKind::kTransient, m); }
  static Error Permanent(const std::string& m) { return Error(ErrorKind::kPermanent, m); }
  static Error Corrupt(const std::string& m) { return Error(ErrorKind::kCorrupt, m); }
  static Error Cancelled(const std::string& m) { return Error(ErrorKind::kCancelled, m); }
  static Error PermissionDenied(const std::string& m) {
    return Error(ErrorKind::kPermissionDenied, m);
  }

  // The same error with "context: " put in front of its message.
  Error WithContext(std::string_view context) const;

 private:
  ErrorKind kind_;
};

// Throws Error(kPermanent) naming `what` and strerror(errno_value).
[[noreturn]] void ThrowSystemError(std::string_view what, int errno_value);

}  // namespace snapd
