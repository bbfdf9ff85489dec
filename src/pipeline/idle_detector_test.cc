// IdleDetector on a FakeClock: `stream --stop-when-idle` stops only once nothing arrived for the
// idle time and the member has caught up.
#include "pipeline/idle_detector.h"

#include <gtest/gtest.h>

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
