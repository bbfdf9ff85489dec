#include "common/status.h"

namespace smartcity {

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk:
      return "ok";
    case ErrorKind::kInvalidArgument:
      return "invalid argument";
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kAlreadyExists:
      return "already exists";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kIOError:
      return "I/O error";
    case ErrorKind::kPermissionDenied:
      return "permission denied";
    case ErrorKind::kCorruption:
      return "corruption";
    case ErrorKind::kResourceExhausted:
      return "resource exhausted";
    case ErrorKind::kAborted:
      return "aborted";
    case ErrorKind::kInternal:
      return "internal error";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  Status s(kind_, std::move(m));
  s.retries_spent_ = retries_spent_;
  return s;
}

}  // namespace smartcity
