// Test support: polling for a condition with a deadline, so a test that waits on another process or
// thread fails after a bound instead of hanging.
#pragma once

#include <chrono>
#include <thread>

namespace smartcity::test {

// Calls `done()` every `every` until it returns true or `limit` has passed; returns its last answer
// (asked once more at the deadline, so a condition that became true while sleeping counts).
template <typename Pred>
bool WaitUntil(Pred&& done, std::chrono::milliseconds limit,
               std::chrono::milliseconds every = std::chrono::milliseconds(100)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

}  // namespace smartcity::test
