// Clock: the one owner of time, as leveldb's Env is. Everything that reads a clock or sleeps
// (pacing, timeouts, idleness, retries' backoff, receive and commit times) does it through a Clock,
// so tests run on a FakeClock: instantly and deterministically.
//
//   Now()        processing time: a monotonic clock of this process (durations, deadlines, pacing);
//   WallNow()    wall-clock time: what the system clock says (UTC), for times that are shown or
//                stored (a record's receivedAt, when a commit finished); never used for durations;
//   SleepUntil() / SleepFor()  block the calling thread (a FakeClock advances instead);
//   SleepUntil(clock, t, stop) waits until t unless *stop becomes true first.
//
// Clock::Real() is the process's SystemClock; code that takes an optional Clock* uses it for null.
//
// Thread-safety: SystemClock is stateless. FakeClock is safe to use from several threads (its time
// is one atomic); Advance() and SleepUntil() only ever move it forward.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "common/time.h"

namespace smartcity {

class Clock {
 public:
  virtual ~Clock() = default;
  // Processing time (monotonic).
  virtual ProcessingTime Now() = 0;
  // Wall-clock time (UTC, microseconds).
  virtual WallTime WallNow() = 0;
  // Blocks until Now() >= t (returns at once if t has passed).
  virtual void SleepUntil(ProcessingTime t) = 0;

  void SleepFor(std::chrono::nanoseconds d) { SleepUntil(Now() + d); }

  // The system clock, shared by the whole process (never null, never destroyed).
  static Clock* Real();
  // `clock`, or Real() if it is null: for options whose Clock* defaults to null.
  static Clock* OrReal(Clock* clock) { return clock != nullptr ? clock : Real(); }
};

class SystemClock final : public Clock {
 public:
  ProcessingTime Now() override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() override { return WallClock::now(); }
  void SleepUntil(ProcessingTime t) override { std::this_thread::sleep_until(t); }
};

// Moves only when told: Advance(d), or a SleepUntil() past its time, which returns at once after
// moving it there. Processing time starts at ProcessingTime{}; wall-clock time at `wall_start` and
// moves with it.
class FakeClock final : public Clock {
 public:
  // 2026-01-05T07:00:00Z: a fixed, recognisable wall time for tests.
  static constexpr WallTime kDefaultWallStart = WallTime(Micros(1'767'596'400'000'000LL));

  FakeClock() : FakeClock(kDefaultWallStart) {}
  explicit FakeClock(WallTime wall_start) : wall_start_(wall_start) {}

  ProcessingTime Now() override { return ProcessingTime(std::chrono::nanoseconds(ns_.load())); }
  WallTime WallNow() override {
    return wall_start_ + std::chrono::duration_cast<Micros>(std::chrono::nanoseconds(ns_.load()));
  }
  void SleepUntil(ProcessingTime t) override {
    const int64_t want =
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    int64_t have = ns_.load();
    while (have < want && !ns_.compare_exchange_weak(have, want)) {
    }
  }
  void Advance(std::chrono::nanoseconds d) { ns_.fetch_add(d.count()); }

 private:
  const WallTime wall_start_;
  std::atomic<int64_t> ns_{0};  // processing time since ProcessingTime{}
};

// Waits until clock.Now() >= t, waking at least every `slice` to look at *stop (may be null).
// Returns false if *stop was (or became) true before t.
bool SleepUntil(Clock& clock, ProcessingTime t, const std::atomic<bool>* stop,
                std::chrono::milliseconds slice = std::chrono::milliseconds(50));

}  // namespace smartcity
