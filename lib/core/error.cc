// ErrorKind names and system-error conversion.
#include "core/error.h"

#include <cerrno>
#include <cstring>

namespace snapd {

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput:
      return "invalid_input";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kConflict:
      return "conflict";
    case ErrorKind::kTransient:
      return "transient";
    case ErrorKind::kPermanent:
      return "permanent";
    case ErrorKind::kCorrupt:
      return "corrupt";
    case ErrorKind::kCancelled:
      return "cancelled";
    case ErrorKind::kPermissionDenied:
      return "permission_denied";
  }
  return "unknown";
}

Error Error::WithContext(std::string_view context) const {
  return Error(kind_, std::string(context) + ": " + what());
}

void ThrowSystemError(std::string_view what, int errno_value) {
  std::string message = std::string(what) + ": " + std::strerror(errno_value);
  ErrorKind kind = ErrorKind::kPermanent;
  if (errno_value == ENOENT) kind = ErrorKind::kNotFound;
  if (errno_value == EINTR || errno_value == EAGAIN) kind = ErrorKind::kTransient;
  throw Error(kind, message);
}

}  // namespace snapd
