// RunSimulation on a fake clock: pacing by --speedup, early stop, sink failures.
#include "simulation/driver.h"

#include <gtest/gtest.h>

#include <atomic>

namespace smartcity::simulation {
namespace {

using std::chrono::seconds;

// Keeps counts and the processing time at which each batch arrived; can be told to fail.
class RecordingSink final : public Sink {
 public:
  explicit RecordingSink(Clock* clock) : clock_(clock) {}
  Status Write(std::span<const Message> batch) override {
    if (fail_after_ >= 0 && writes_ >= fail_after_) return Status::IOError("disk full");
    ++writes_;
    for (const Message& m : batch) {
      counters_.sent[static_cast<size_t>(m.topic)]++;
      counters_.delivered[static_cast<size_t>(m.topic)]++;
      ++messages_;
    }
    times_.push_back(clock_->Now());
    return Status::OK();
  }
  Status Flush(std::chrono::milliseconds) override {
    ++flushes_;
    return Status::OK();
  }
  const SinkCounters& counters() const override { return counters_; }
  std::string Describe() const override { return "recording"; }

  Clock* clock_;
  int fail_after_ = -1;
  int writes_ = 0;
  int flushes_ = 0;
  uint64_t messages_ = 0;
  std::vector<ProcessingTime> times_;
  SinkCounters counters_;
};

SimulationOptions TenSeconds() {
  SimulationOptions o;
  o.mode = SimulationMode::kOneTrip;  // a fixed fleet: 4 vehicles x 3 events x 10 ticks
  o.vehicles = 4;
  o.duration = seconds(10);
  return o;
}

TEST(DriverTest, RealTimeTakesTheDurationAndSpeedupDividesIt) {
  for (double speedup : {1.0, 2.0, 10.0}) {
    auto sim = Simulator::Create(TenSeconds());
    ASSERT_TRUE(sim.ok());
    FakeClock clock;
    const ProcessingTime t0 = clock.Now();
    RecordingSink sink(&clock);
    DriverOptions d;
    d.speedup = speedup;
    int finals = 0;
    ASSERT_TRUE(
        RunSimulation(**sim, sink, clock, d, [&](const Progress& p) { finals += p.final; }).ok());
    EXPECT_EQ(finals, 1);
    EXPECT_EQ(sink.messages_, (*sim)->summary().TotalEmitted());
    EXPECT_EQ(sink.flushes_, 1);
    // The last tick's events (up to 10 s of event time) go out once that much scaled time has
    // passed.
    const double took = std::chrono::duration<double>(clock.Now() - t0).count();
    EXPECT_NEAR(took, 10.0 / speedup, 1e-6) << speedup;
    // Never ahead of event time: batch k is written at (k + 1) ticks / speedup.
    ASSERT_EQ(sink.times_.size(), 10u);
    for (size_t k = 0; k < sink.times_.size(); ++k) {
      EXPECT_NEAR(std::chrono::duration<double>(sink.times_[k] - t0).count(),
                  static_cast<double>(k + 1) / speedup, 1e-6);
    }
  }
}

TEST(DriverTest, MaxSpeedDoesNotSleep) {
  auto sim = Simulator::Create(TenSeconds());
  ASSERT_TRUE(sim.ok());
  FakeClock clock;
  const ProcessingTime t0 = clock.Now();
  RecordingSink sink(&clock);
  DriverOptions d;
  d.speedup = 0;
  ASSERT_TRUE(RunSimulation(**sim, sink, clock, d, nullptr).ok());
  EXPECT_EQ(clock.Now(), t0);
  EXPECT_EQ(sink.messages_, 120u);
}

TEST(DriverTest, StopEndsTheRunAndStillDeliversHeldBackMessages) {
  SimulationOptions o;
  o.vehicles = 10;
  o.faults = {{FaultKind::kLate, 0.2, std::chrono::minutes(5)}};
  auto sim = Simulator::Create(o);
  ASSERT_TRUE(sim.ok());
  FakeClock clock;
  RecordingSink sink(&clock);
  std::atomic<bool> stop{false};
  DriverOptions d;
  d.speedup = 1;
  d.stop = &stop;
  d.progress_every = std::chrono::milliseconds(1000);
  // Stop after 30 s of (fake) processing time, as SIGINT would.
  ASSERT_TRUE(RunSimulation(**sim, sink, clock, d, [&](const Progress& p) {
                if (!p.final && p.elapsed >= seconds(30)) stop = true;
              }).ok());
  const SimulationSummary& s = (*sim)->summary();
  EXPECT_GE(s.ticks, 30u);
  EXPECT_LT(s.ticks, 40u);
  EXPECT_GT(s.faults[static_cast<size_t>(FaultKind::kLate)], 0u);
  EXPECT_EQ(sink.messages_, s.TotalGenerated());
  EXPECT_EQ(sink.messages_, s.TotalEmitted());
}

TEST(DriverTest, ASinkErrorEndsTheRunAndIsReturned) {
  auto sim = Simulator::Create(TenSeconds());
  ASSERT_TRUE(sim.ok());
  FakeClock clock;
  RecordingSink sink(&clock);
  sink.fail_after_ = 3;
  DriverOptions d;
  d.speedup = 0;
  const Status st = RunSimulation(**sim, sink, clock, d, nullptr);
  EXPECT_EQ(st.kind(), ErrorKind::kIOError);
  EXPECT_EQ(st.message(), "disk full");
  EXPECT_EQ(sink.writes_, 3);
  EXPECT_EQ(sink.flushes_, 1);
}

}  // namespace
}  // namespace smartcity::simulation
