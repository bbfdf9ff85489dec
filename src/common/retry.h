// RetryPolicy: the one backoff loop. It retries an operation while it fails with a transient error
// (Status::IsRetryable(): kUnavailable, kTimeout), waiting through a Clock with exponential backoff
// and optional jitter, until the operation succeeds, fails for good, or a limit (attempts, time) is
// reached.
//
// One layer retries (docs/retries.md). A failure that a policy gave up on comes back marked
// Status::retries_spent(), and no policy retries a marked failure again: so when the object store
// has retried a request for its whole budget, the Delta commit, the processor and the loader above
// it return that failure at once instead of starting the store's retries over (which multiplied
// them). Non-transient failures are returned at once, unmarked.
//
//   RetryPolicy policy(options, clock);
//   Status s = policy.Run([&] { return store->Put(key, bytes); }, &retries);
// or, when the caller does more between attempts (reconnects, logs, stops on request):
//   RetryPolicy::Attempts a = policy.Start();
//   for (;;) {
//     Status s = Op();
//     if (!a.ShouldRetry(&s)) return s;   // s is final (marked if the limits were reached)
//     Log(s, a.next_delay());
//     if (!a.Wait(&stop)) return Status::Aborted("stopped");
//   }
//
// Thread-safety: a RetryPolicy is immutable and may be shared by threads when its Clock and random
// source may be (the defaults may); an Attempts object belongs to one operation on one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

#include "common/clock.h"
#include "common/status.h"
#include "common/time.h"

namespace smartcity {

struct RetryOptions {
  // The wait before the first retry; each later wait is `multiplier` times the previous one, up to
  // max_backoff.
  Micros initial_backoff = std::chrono::milliseconds(100);
  Micros max_backoff = std::chrono::seconds(10);
  double multiplier = 2.0;
  // Each wait is drawn uniformly from [(1 - jitter) * d, d] for the backoff d: 0 waits exactly d,
  // 0.5 is "equal jitter", 1 "full jitter". Spreads the retries of many clients.
  double jitter = 0.0;
  // Gives up once this many attempts have been made; 0: no limit by count.
  int max_attempts = 0;
  // Gives up once this much time has passed since the first attempt began (a wait is cut short so
  // that the last attempt starts at the deadline). Micros::max(): no limit by time. 0: no retries.
  Micros deadline = Micros::max();
};

// Uniform in [0, 1). Null: a per-thread std::mt19937_64 seeded from std::random_device.
using RandomSource = std::function<double()>;

class RetryPolicy {
 public:
  // `clock` null: Clock::Real(). Both are borrowed and must outlive the policy.
  explicit RetryPolicy(RetryOptions options = {}, Clock* clock = nullptr,
                       RandomSource random = nullptr);

  // The attempts of one operation.
  class Attempts {
   public:
    // Call after each attempt with its status. True: retry it after Wait(). False: `*status` is
    // the operation's outcome; when the policy gave up on a transient failure it is marked
    // retries_spent() and, if it was retried at all, says how long ("(gave up after 4 attempts in
    // 61 s)").
    bool ShouldRetry(Status* status);
    // Waits next_delay() through the clock. False if *stop (may be null) became true first.
    bool Wait(const std::atomic<bool>* stop = nullptr);

    int attempts() const { return attempts_; }  // made so far
    int retries() const { return retries_; }    // ShouldRetry() said yes this often
    Micros next_delay() const { return next_delay_; }
    Micros elapsed() const;

   private:
    friend class RetryPolicy;
    explicit Attempts(const RetryPolicy* policy);
    const RetryPolicy* policy_;
    ProcessingTime start_;
    int attempts_ = 0;
    int retries_ = 0;
    Micros backoff_{0};     // before jitter; 0 before the first retry
    Micros next_delay_{0};  // the wait ShouldRetry() chose
  };

  Attempts Start() const { return Attempts(this); }

  // Runs `op` under the policy and returns its outcome. Adds the number of retries to *retries
  // (may be null).
  Status Run(const std::function<Status()>& op, uint64_t* retries = nullptr) const;

  const RetryOptions& options() const { return options_; }
  Clock* clock() const { return clock_; }

 private:
  double Random() const;

  RetryOptions options_;
  Clock* clock_;
  RandomSource random_;
};

}  // namespace smartcity
