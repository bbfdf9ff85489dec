// Clock: processing time behind an interface, so pacing, timeouts and idleness are testable.
// SystemClock is the real steady clock; FakeClock only moves when told (SleepUntil advances it).
//
// Thread-safety: SystemClock is stateless. FakeClock is for single-threaded tests.
#pragma once

#include <thread>

#include "common/time.h"

namespace smartcity {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual ProcessingTime Now() = 0;
  virtual void SleepUntil(ProcessingTime t) = 0;
};

class SystemClock final : public Clock {
 public:
  ProcessingTime Now() override { return std::chrono::steady_clock::now(); }
  void SleepUntil(ProcessingTime t) override { std::this_thread::sleep_until(t); }
};

class FakeClock final : public Clock {
 public:
  ProcessingTime Now() override { return now_; }
  void SleepUntil(ProcessingTime t) override {
    if (t > now_) now_ = t;
  }
  void Advance(std::chrono::nanoseconds d) { now_ += d; }

 private:
  ProcessingTime now_{};
};

}  // namespace smartcity
