// IdleDetector on a FakeClock: `stream --stop-when-idle` stops only once nothing arrived for the
// idle time and the member has caught up. SourceInput's --stop-at-end rule over a scripted source:
// it stops at the ends its partitions had when they were assigned, reads the repartition topics'
// ends only after the inputs are read and the forwarder flushed, and never stops on ends it cannot
// read.
#include "pipeline/idle_detector.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "common/clock.h"

namespace smartcity::pipeline {
namespace {

TEST(IdleDetectorTest, IdleOnceNothingArrivedForTheIdleTime) {
  FakeClock clock;
  IdleDetector idle(std::chrono::seconds(2), clock.Now());
  EXPECT_FALSE(idle.Idle(clock.Now(), 0));
  EXPECT_FALSE(idle.first_input().has_value());
  clock.Advance(std::chrono::seconds(1));
  EXPECT_FALSE(idle.Idle(clock.Now(), 100));  // records arrived: the idle time starts again
  const ProcessingTime first = clock.Now();
  clock.Advance(std::chrono::milliseconds(1500));
  EXPECT_FALSE(idle.Idle(clock.Now(), 250));
  const ProcessingTime last = clock.Now();
  clock.Advance(std::chrono::milliseconds(1999));
  EXPECT_FALSE(idle.Idle(clock.Now(), 250));
  clock.Advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(idle.Idle(clock.Now(), 250));
  ASSERT_TRUE(idle.first_input().has_value());
  EXPECT_EQ(*idle.first_input(), first);
  EXPECT_EQ(idle.last_input(), last);
}

TEST(IdleDetectorTest, AnOutageIsNotSilence) {
  FakeClock clock;
  IdleDetector idle(std::chrono::seconds(2), clock.Now());
  EXPECT_FALSE(idle.Idle(clock.Now(), 100));
  const ProcessingTime last = clock.Now();
  // The transport is unreachable for a minute: however long, that is not idle time.
  for (int i = 0; i < 60; ++i) {
    clock.Advance(std::chrono::seconds(1));
    EXPECT_FALSE(idle.Idle(clock.Now(), 100, /*lag_known=*/false));
  }
  // Back: the idle time counts from here.
  clock.Advance(std::chrono::milliseconds(1999));
  EXPECT_FALSE(idle.Idle(clock.Now(), 100));
  clock.Advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(idle.Idle(clock.Now(), 100));
  EXPECT_EQ(idle.last_input(), last);  // the active reading time is not stretched
}

TEST(IdleDetectorTest, ZeroMeansNeverIdle) {
  FakeClock clock;
  IdleDetector idle(Micros(0), clock.Now());
  clock.Advance(std::chrono::hours(1));
  EXPECT_FALSE(idle.Idle(clock.Now(), 0));
}

TEST(IdleDetectorTest, CaughtUpNeedsPartitionsNoLagAndNoReplay) {
  const TopicPartition tp{Topic::kVehicle, PartitionId(0)};
  std::vector<PartitionLag> done = {{tp, SourcePosition(5), SourcePosition(5), 0}};
  std::vector<PartitionLag> behind = {{tp, SourcePosition(3), SourcePosition(5), 2}};
  std::vector<PartitionLag> unknown = {{tp, std::nullopt, std::nullopt, std::nullopt}};
  std::vector<Processor::GroupStatus> steady = {{0, 3, EventTime{}, false}};
  std::vector<Processor::GroupStatus> replaying = {{0, 3, EventTime{}, true}};
  EXPECT_TRUE(IdleDetector::CaughtUp(true, done, steady));
  EXPECT_FALSE(IdleDetector::CaughtUp(false, done, steady));
  EXPECT_FALSE(IdleDetector::CaughtUp(true, behind, steady));
  EXPECT_FALSE(IdleDetector::CaughtUp(true, unknown, steady));
  EXPECT_FALSE(IdleDetector::CaughtUp(true, done, replaying));
}

// A source whose positions and ends the test sets; QueryLag reads the ends "now" and can fail.
class ScriptedSource final : public EventSource {
 public:
  struct Part {
    int64_t position = 0;
    int64_t end = 0;
  };
  std::map<TopicPartition, Part> parts;  // the assignment
  bool unreachable = false;
  int queries = 0;

  PositionKind position_kind() const override { return PositionKind::kKafkaOffset; }
  Result<std::span<const SourceRecord>> Poll(size_t, std::chrono::milliseconds) override {
    return std::span<const SourceRecord>();
  }
  std::vector<TopicPartition> Assignment() const override {
    std::vector<TopicPartition> out;
    for (const auto& [tp, p] : parts) out.push_back(tp);
    return out;
  }
  std::vector<PartitionPosition> Positions() const override {
    std::vector<PartitionPosition> out;
    for (const auto& [tp, p] : parts) out.push_back({tp, SourcePosition(p.position)});
    return out;
  }
  Status Seek(std::span<const PartitionPosition>) override { return Status::OK(); }
  Status Pause(std::span<const TopicPartition>) override { return Status::OK(); }
  Status Resume(std::span<const TopicPartition>) override { return Status::OK(); }
  std::vector<PartitionLag> Lag() override {
    std::vector<PartitionLag> out;
    for (const auto& [tp, p] : parts) {
      out.push_back({tp, SourcePosition(p.position), SourcePosition(p.end), p.end - p.position});
    }
    return out;
  }
  Result<std::vector<PartitionLag>> QueryLag() override {
    ++queries;
    if (unreachable) return Status::Unavailable("cannot reach the transport");
    return Lag();
  }
  const SourceCounters& counters() const override { return counters_; }
  Status Close() override { return Status::OK(); }
  std::string Describe() const override { return "scripted"; }

 private:
  SourceCounters counters_;
};

TopicPartition Input(int32_t p) {
  return {Topic::kVehicle, PartitionId(p)};
}
TopicPartition Repartition(int32_t p) {
  return {Topic::kVehicle, PartitionId(p), /*repartition=*/true};
}

class StopAtEndTest : public ::testing::Test {
 protected:
  // One turn of the loop: the step's view of the source, then whether the input is done.
  bool Done(SourceInput& input) {
    const std::vector<PartitionLag> lag = source_.Lag();
    DriveStep step;
    step.now = clock_.Now();
    step.counters = &counters_;
    step.lag = lag;
    step.replaying = replaying_;
    input.AfterStep(step);
    return input.Done(step);
  }

  FakeClock clock_;
  ScriptedSource source_;
  ProcessorCounters counters_;
  bool replaying_ = false;
};

TEST_F(StopAtEndTest, StopsAtTheStartEndsWithoutWaitingForLaterRecords) {
  source_.parts[Input(0)] = {0, 100};
  source_.parts[Input(1)] = {0, 40};
  SourceInput input(&source_, StopRule::AtEnd(), clock_.Now());
  EXPECT_FALSE(Done(input));
  EXPECT_EQ(source_.queries, 1);
  // Producers keep writing: the ends move on, the targets do not.
  source_.parts[Input(0)] = {60, 180};
  source_.parts[Input(1)] = {40, 90};
  counters_.records = 100;
  EXPECT_FALSE(Done(input));
  source_.parts[Input(0)] = {100, 250};
  counters_.records = 140;
  // At once: no idle time, no second round trip.
  EXPECT_TRUE(Done(input));
  EXPECT_EQ(source_.queries, 1);
  EXPECT_EQ(input.target_queries(), 1);
}

TEST_F(StopAtEndTest, NeedsPartitionsAndNoReplay) {
  SourceInput input(&source_, StopRule::AtEnd(), clock_.Now());
  EXPECT_FALSE(Done(input));  // nothing assigned yet
  EXPECT_EQ(source_.queries, 0);
  source_.parts[Input(0)] = {10, 10};
  replaying_ = true;
  EXPECT_FALSE(Done(input));
  replaying_ = false;
  EXPECT_TRUE(Done(input));
}

TEST_F(StopAtEndTest, APartitionGainedLaterUsesItsEndAtAssignment) {
  source_.parts[Input(0)] = {0, 10};
  SourceInput input(&source_, StopRule::AtEnd(), clock_.Now());
  EXPECT_FALSE(Done(input));
  // A rebalance hands over partition 1, which has grown to 20 by then.
  source_.parts[Input(1)] = {5, 20};
  EXPECT_FALSE(Done(input));
  EXPECT_EQ(source_.queries, 2);
  source_.parts[Input(0)] = {10, 30};
  source_.parts[Input(1)] = {19, 35};
  EXPECT_FALSE(Done(input));
  source_.parts[Input(1)] = {20, 40};
  EXPECT_TRUE(Done(input));
  // Revoked and given back: its end is read again at the new assignment.
  source_.parts.erase(Input(1));
  EXPECT_TRUE(Done(input));
  source_.parts[Input(1)] = {20, 40};
  EXPECT_FALSE(Done(input));
  source_.parts[Input(1)] = {40, 41};
  EXPECT_TRUE(Done(input));
}

TEST_F(StopAtEndTest, EndsThatCannotBeReadAreNeverTheEnd) {
  source_.parts[Input(0)] = {10, 10};  // caught up by the ends remembered
  source_.unreachable = true;
  SourceInput input(&source_, StopRule::AtEnd(), clock_.Now());
  for (int i = 0; i < 50; ++i) {
    clock_.Advance(std::chrono::seconds(1));
    EXPECT_FALSE(Done(input));
  }
  source_.unreachable = false;
  EXPECT_TRUE(Done(input));
}

TEST_F(StopAtEndTest, DrainsTheRepartitionTopicsToTheirEndsAfterTheFlush) {
  source_.parts[Input(0)] = {0, 10};
  source_.parts[Repartition(0)] = {0, 0};
  int flushes = 0;
  int64_t unflushed = 0;  // forwarded records the forwarder still holds
  StopRule rule = StopRule::AtEnd([&] {
    ++flushes;
    source_.parts[Repartition(0)].end += unflushed;
    unflushed = 0;
    return Status::OK();
  });
  SourceInput input(&source_, std::move(rule), clock_.Now());
  EXPECT_FALSE(Done(input));
  EXPECT_EQ(flushes, 0);  // the inputs come first
  // The inputs are read; 4 of their records were forwarded and are not stored yet.
  source_.parts[Input(0)] = {10, 10};
  counters_.forwarded = 4;
  unflushed = 4;
  EXPECT_FALSE(Done(input)) << "stopped with forwarded records unread";
  EXPECT_EQ(flushes, 1);
  EXPECT_EQ(source_.parts[Repartition(0)].end, 4);
  source_.parts[Repartition(0)].position = 3;
  EXPECT_FALSE(Done(input));
  EXPECT_EQ(flushes, 1);  // nothing more was forwarded: the ends read once stand
  // A partition gained late forwards more: flushed and read again.
  source_.parts[Input(1)] = {0, 5};
  EXPECT_FALSE(Done(input));
  source_.parts[Input(1)] = {5, 5};
  counters_.forwarded = 6;
  unflushed = 2;
  source_.parts[Repartition(0)].position = 4;
  EXPECT_FALSE(Done(input));
  EXPECT_EQ(flushes, 2);
  EXPECT_EQ(source_.parts[Repartition(0)].end, 6);
  source_.parts[Repartition(0)].position = 6;
  EXPECT_TRUE(Done(input));
}

TEST_F(StopAtEndTest, AFailedFlushIsNotTheEnd) {
  source_.parts[Input(0)] = {10, 10};
  source_.parts[Repartition(0)] = {0, 0};
  bool fail = true;
  StopRule rule =
      StopRule::AtEnd([&] { return fail ? Status::Unavailable("broker down") : Status::OK(); });
  SourceInput input(&source_, std::move(rule), clock_.Now());
  counters_.forwarded = 1;
  EXPECT_FALSE(Done(input));
  fail = false;
  EXPECT_TRUE(Done(input));
}

TEST(LowWatermarkTest, IsTheLowestGroupsWatermark) {
  const EventTime a(std::chrono::seconds(100)), b(std::chrono::seconds(200));
  std::vector<Processor::GroupStatus> groups = {{0, 1, b, false}, {1, 1, a, false}};
  EXPECT_EQ(LowWatermark(groups), a);
  groups.push_back({2, 0, EventTime::min(), false});  // a group without one yet
  EXPECT_FALSE(LowWatermark(groups).has_value());
  EXPECT_FALSE(LowWatermark({}).has_value());
}

}  // namespace
}  // namespace smartcity::pipeline
