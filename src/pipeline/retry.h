// WithRetries: runs an operation of the lake or the checkpoint store again, with exponential
// backoff (100 ms doubling to 10 s), while it fails with a retryable Status
// (Status::IsRetryable()).
//
// It gives up after `max_retries` retries, unless less than `budget` has passed since the first
// attempt (long enough to ride out an object store restarting). Sleeps on the calling thread.
//
// Thread-safety: a free function; `retries` belongs to the caller's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "common/status.h"

namespace smartcity::pipeline {

struct RetryLimits {
  int max_retries = 8;
  std::chrono::milliseconds budget{180'000};  // 0: max_retries alone decides
};

// Returns the operation's last status; adds each retry to *retries.
Status WithRetries(const std::function<Status()>& op, const RetryLimits& limits, uint64_t* retries);

}  // namespace smartcity::pipeline
