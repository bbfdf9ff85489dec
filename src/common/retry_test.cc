#include "common/retry.h"

#include <gtest/gtest.h>

#include <vector>

namespace smartcity {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Fails with `failure` `failures` times, then succeeds; records the clock at each attempt.
struct Flaky {
  Flaky(FakeClock* clock, int failures, Status failure = Status::Unavailable("server down"))
      : clock(clock), failures(failures), failure(std::move(failure)) {}
  FakeClock* clock;
  int failures;
  Status failure;
  std::vector<ProcessingTime> at;
  Status operator()() {
    at.push_back(clock->Now());
    if (static_cast<int>(at.size()) <= failures) return failure;
    return Status::OK();
  }
};

Micros Since(ProcessingTime start, ProcessingTime t) {
  return std::chrono::duration_cast<Micros>(t - start);
}

TEST(RetryPolicyTest, BacksOffExponentiallyUpToTheMaximumOnTheClock) {
  FakeClock clock;
  RetryOptions o;
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(500);
  RetryPolicy policy(o, &clock);
  Flaky op(&clock, 5);
  uint64_t retries = 0;
  ASSERT_TRUE(policy.Run(std::ref(op), &retries).ok());
  EXPECT_EQ(retries, 5u);
  ASSERT_EQ(op.at.size(), 6u);
  // Waits 100, 200, 400, 500, 500 ms: the attempts start at these times, and no real time passed.
  const std::vector<int64_t> want_ms = {0, 100, 300, 700, 1200, 1700};
  for (size_t i = 0; i < want_ms.size(); ++i)
    EXPECT_EQ(Since(op.at[0], op.at[i]), milliseconds(want_ms[i])) << i;
}

TEST(RetryPolicyTest, OnlyTransientErrorsAreRetried) {
  FakeClock clock;
  RetryPolicy policy({}, &clock);
  for (const Status& failure :
       {Status::InvalidArgument("bad"), Status::PermissionDenied("no"), Status::NotFound("gone"),
        Status::Corruption("broken"), Status::AlreadyExists("lost the race")}) {
    Flaky op(&clock, 3, failure);
    Status s = policy.Run(std::ref(op));
    EXPECT_EQ(s.kind(), failure.kind());
    EXPECT_EQ(s.message(), failure.message()) << "a non-transient failure is returned as is";
    EXPECT_FALSE(s.retries_spent());
    EXPECT_EQ(op.at.size(), 1u) << failure.message();
  }
  Flaky timeout(&clock, 2, Status::Timeout("slow"));
  EXPECT_TRUE(policy.Run(std::ref(timeout)).ok());
  EXPECT_EQ(timeout.at.size(), 3u);
}

TEST(RetryPolicyTest, GivesUpAfterMaxAttemptsAndMarksTheFailure) {
  FakeClock clock;
  RetryOptions o;
  o.max_attempts = 4;
  RetryPolicy policy(o, &clock);
  Flaky op(&clock, 100);
  uint64_t retries = 0;
  Status s = policy.Run(std::ref(op), &retries);
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_TRUE(s.IsRetryable());
  EXPECT_TRUE(s.retries_spent());
  EXPECT_NE(s.message().find("gave up after 4 attempts"), std::string::npos) << s.message();
  EXPECT_EQ(op.at.size(), 4u);
  EXPECT_EQ(retries, 3u);
}

TEST(RetryPolicyTest, TheDeadlineCutsTheLastWaitShort) {
  FakeClock clock;
  RetryOptions o;
  o.initial_backoff = seconds(1);
  o.max_backoff = seconds(8);
  o.deadline = seconds(10);
  RetryPolicy policy(o, &clock);
  Flaky op(&clock, 100);
  Status s = policy.Run(std::ref(op));
  EXPECT_TRUE(s.retries_spent());
  // Attempts at 0, 1, 3, 7 s and, instead of 15 s, at the deadline.
  ASSERT_EQ(op.at.size(), 5u);
  EXPECT_EQ(Since(op.at[0], op.at[3]), seconds(7));
  EXPECT_EQ(Since(op.at[0], op.at[4]), seconds(10));
}

TEST(RetryPolicyTest, AZeroDeadlineMeansNoRetries) {
  FakeClock clock;
  RetryOptions o;
  o.deadline = Micros(0);
  RetryPolicy policy(o, &clock);
  Flaky op(&clock, 1);
  Status s = policy.Run(std::ref(op));
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(s.message(), "server down") << "nothing was retried, so nothing to add";
  EXPECT_TRUE(s.retries_spent());
  EXPECT_EQ(op.at.size(), 1u);
}

TEST(RetryPolicyTest, JitterComesFromTheInjectedSource) {
  FakeClock clock;
  RetryOptions o;
  o.initial_backoff = milliseconds(100);
  o.jitter = 0.5;
  std::vector<double> draws = {0.0, 1.0, 0.5};
  size_t next = 0;
  RetryPolicy policy(o, &clock, [&] { return draws[next++]; });
  Flaky op(&clock, 3);
  ASSERT_TRUE(policy.Run(std::ref(op)).ok());
  ASSERT_EQ(op.at.size(), 4u);
  // Backoffs 100, 200, 400 ms; waits d * (1 - 0.5 * draw): 100, 100, 300 ms.
  EXPECT_EQ(Since(op.at[0], op.at[1]), milliseconds(100));
  EXPECT_EQ(Since(op.at[1], op.at[2]), milliseconds(100));
  EXPECT_EQ(Since(op.at[2], op.at[3]), milliseconds(300));
}

// The layering rule (docs/retries.md): when a lower layer (the object store) has retried a failure
// until its budget, a policy above it (a commit, the processor, the loader) does not start over.
TEST(RetryPolicyTest, RetriesDoNotMultiplyAcrossLayers) {
  FakeClock clock;
  RetryOptions inner_options;
  inner_options.max_attempts = 3;
  RetryPolicy inner(inner_options, &clock);
  RetryOptions outer_options;
  outer_options.max_attempts = 5;
  RetryPolicy outer(outer_options, &clock);
  int requests = 0;
  auto request = [&] {
    ++requests;
    return Status::Unavailable("connection refused");
  };
  uint64_t inner_retries = 0, outer_retries = 0;
  Status s = outer.Run([&] { return inner.Run(request, &inner_retries).WithContext("committing"); },
                       &outer_retries);
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_TRUE(s.retries_spent()) << "the mark survives WithContext";
  EXPECT_EQ(requests, 3) << "3 inner attempts, not 3 x 5";
  EXPECT_EQ(inner_retries, 2u);
  EXPECT_EQ(outer_retries, 0u);

  // A transient failure nobody below retried (a lost commit race) is still the outer layer's.
  requests = 0;
  Status race = outer.Run([&] {
    ++requests;
    return Status::Unavailable("lost the race for a commit version");
  });
  EXPECT_EQ(requests, 5);
  EXPECT_TRUE(race.retries_spent());
}

TEST(RetryPolicyTest, WaitStopsWhenAsked) {
  FakeClock clock;
  RetryOptions o;
  o.initial_backoff = seconds(30);
  RetryPolicy policy(o, &clock);
  RetryPolicy::Attempts a = policy.Start();
  Status s = Status::Unavailable("down");
  ASSERT_TRUE(a.ShouldRetry(&s));
  EXPECT_EQ(a.next_delay(), seconds(30));
  std::atomic<bool> stop{true};
  EXPECT_FALSE(a.Wait(&stop));
  stop = false;
  const ProcessingTime before = clock.Now();
  EXPECT_TRUE(a.Wait(&stop));
  EXPECT_EQ(clock.Now() - before, seconds(30));
}

TEST(ClockTest, FakeClockMovesWallAndProcessingTimeTogether) {
  FakeClock clock;
  const WallTime wall0 = clock.WallNow();
  EXPECT_EQ(wall0, FakeClock::kDefaultWallStart);
  clock.SleepFor(milliseconds(1500));
  clock.Advance(milliseconds(500));
  EXPECT_EQ(clock.Now(), ProcessingTime(seconds(2)));
  EXPECT_EQ(clock.WallNow() - wall0, seconds(2));
  clock.SleepUntil(ProcessingTime(seconds(1)));  // in the past: no-op
  EXPECT_EQ(clock.Now(), ProcessingTime(seconds(2)));
  EXPECT_EQ(FormatTimestamp(AsEventTime(wall0)), "2026-01-05T07:00:00.000000Z");
}

TEST(ClockTest, SleepUntilReturnsFalseWhenStopped) {
  FakeClock clock;
  std::atomic<bool> stop{false};
  EXPECT_TRUE(SleepUntil(clock, clock.Now() + seconds(1), &stop));
  EXPECT_EQ(clock.Now(), ProcessingTime(seconds(1)));
  stop = true;
  EXPECT_FALSE(SleepUntil(clock, clock.Now() + seconds(1), &stop));
  EXPECT_EQ(clock.Now(), ProcessingTime(seconds(1)));
}

TEST(ClockTest, TheRealClockIsOne) {
  EXPECT_EQ(Clock::Real(), Clock::Real());
  FakeClock fake;
  EXPECT_EQ(Clock::OrReal(&fake), &fake);
  EXPECT_EQ(Clock::OrReal(nullptr), Clock::Real());
  // Wall-clock and event time do not mix without a conversion (this must not compile):
  //   EventTime e = Clock::Real()->WallNow();
  static_assert(!std::is_convertible_v<WallTime, EventTime>);
  static_assert(!std::is_convertible_v<EventTime, WallTime>);
  static_assert(!std::is_convertible_v<ProcessingTime, WallTime>);
}

}  // namespace
}  // namespace smartcity
