#include "pipeline/retry.h"

#include <algorithm>
#include <thread>

namespace smartcity::pipeline {

Status WithRetries(const std::function<Status()>& op, const RetryLimits& limits,
                   uint64_t* retries) {
  auto delay = std::chrono::milliseconds(100);
  const auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    Status s = op();
    if (s.ok() || !s.IsRetryable()) return s;
    if (attempt >= limits.max_retries && std::chrono::steady_clock::now() - start >= limits.budget)
      return s;
    ++*retries;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(10'000));
  }
}

}  // namespace smartcity::pipeline
