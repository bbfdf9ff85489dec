// Status and Result<T>: errors as values at every boundary.
//
// A Status is either OK or carries an ErrorKind and one human sentence that names the problem and,
// where there is one, the fix ("cannot reach Kafka at 127.0.0.1:9092: is the broker running? set
// KAFKA_BOOTSTRAP_SERVERS"). The kind says whether retrying can help (IsRetryable()).
// Exceptions are reserved for broken invariants; nothing below the CLI throws for expected
// failures.
//
// Thread-safety: value types; safe to copy between threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace smartcity {

enum class ErrorKind {
  kOk = 0,
  kInvalidArgument,    // bad option, config or input value: fix the input, do not retry
  kNotFound,           // file, topic, table or object missing
  kAlreadyExists,      // e.g. a conditional put lost the race
  kUnavailable,        // broker, server or store not reachable now: retry with backoff helps
  kTimeout,            // an operation took longer than its bound: retry may help
  kIOError,            // local I/O failure (disk full, permission on a local file)
  kPermissionDenied,   // credentials rejected or access denied: fix credentials, do not retry
  kCorruption,         // data that should be well-formed is not
  kResourceExhausted,  // a limit was hit (queue full, payload too large)
  kAborted,            // stopped on request (signal, shutdown)
  kInternal,           // a bug: an invariant did not hold
};

std::string_view ErrorKindName(ErrorKind kind);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {ErrorKind::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {ErrorKind::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {ErrorKind::kAlreadyExists, std::move(m)}; }
  static Status Unavailable(std::string m) { return {ErrorKind::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {ErrorKind::kTimeout, std::move(m)}; }
  static Status IOError(std::string m) { return {ErrorKind::kIOError, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {ErrorKind::kPermissionDenied, std::move(m)};
  }
  static Status Corruption(std::string m) { return {ErrorKind::kCorruption, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {ErrorKind::kResourceExhausted, std::move(m)};
  }
  static Status Aborted(std::string m) { return {ErrorKind::kAborted, std::move(m)}; }
  static Status Internal(std::string m) { return {ErrorKind::kInternal, std::move(m)}; }

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // True when the same call may succeed later without the user changing anything.
  bool IsRetryable() const {
    return kind_ == ErrorKind::kUnavailable || kind_ == ErrorKind::kTimeout;
  }
  // True when a RetryPolicy (common/retry.h) already retried this failure until its limits: a
  // layer above must not retry it again (retries would multiply). It stays IsRetryable(): a caller
  // that never gives up (a follow loop) may still try again later, as a fresh attempt.
  bool retries_spent() const { return retries_spent_; }
  // A copy marked retries_spent().
  Status WithRetriesSpent() const {
    Status s = *this;
    s.retries_spent_ = !s.ok();
    return s;
  }
  // "message" for OK-less statuses; "OK" otherwise.
  std::string ToString() const { return ok() ? std::string("OK") : message_; }

  // Returns a copy with `context` prefixed: "context: message".
  Status WithContext(std::string_view context) const;

 private:
  ErrorKind kind_ = ErrorKind::kOk;
  bool retries_spent_ = false;  // kept by WithContext()
  std::string message_;
};

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace smartcity

// Propagates a non-OK Status to the caller.
#define SC_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::smartcity::Status sc_status_ = (expr); \
    if (!sc_status_.ok()) return sc_status_; \
  } while (0)

#define SC_CONCAT_INNER(a, b) a##b
#define SC_CONCAT(a, b) SC_CONCAT_INNER(a, b)
// SC_ASSIGN_OR_RETURN(auto x, MakeX()): binds the value or returns the error.
#define SC_ASSIGN_OR_RETURN(lhs, expr) \
  SC_ASSIGN_OR_RETURN_IMPL(SC_CONCAT(sc_result_, __LINE__), lhs, expr)
// `tmp` and `lhs` are declarations, which parentheses would break.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define SC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
