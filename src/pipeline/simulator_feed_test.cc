// SimulatorFeed on a FakeClock: ticks are released at the pace --speedup asks (each once its events
// are all in the past, as `simulate` does), and ticks the checkpoints cover are regenerated at
// once.
#include "pipeline/simulator_feed.h"

#include <gtest/gtest.h>

#include "simulation/simulator.h"

namespace smartcity::pipeline {
namespace {

std::unique_ptr<simulation::Simulator> MakeSimulator(int seconds) {
  simulation::SimulationOptions o;
  o.seed = 3;
  o.vehicles = 4;
  o.duration = std::chrono::seconds(seconds);
  auto sim = simulation::Simulator::Create(o);
  EXPECT_TRUE(sim.ok());
  return std::move(*sim);
}

TEST(SimulatorFeedTest, ReleasesATickOnceItsEventsAreInThePast) {
  auto sim = MakeSimulator(5);
  MemoryLog log(2);
  FakeClock clock;
  SimulatorFeed feed(sim.get(), &log, /*speedup=*/1, /*resume_at=*/-1);
  // The first tick covers [start, start + 1 s): it is due one second after pacing began.
  EXPECT_EQ(feed.Feed(&clock), 0);
  EXPECT_EQ(log.next_sequence().value(), 0u);
  clock.Advance(std::chrono::milliseconds(999));
  EXPECT_EQ(feed.Feed(&clock), 0);
  clock.Advance(std::chrono::milliseconds(1));
  EXPECT_EQ(feed.Feed(&clock), 1);
  EXPECT_GT(log.next_sequence().value(), 0u);
  clock.Advance(std::chrono::milliseconds(2500));
  EXPECT_EQ(feed.Feed(&clock), 2);
  EXPECT_FALSE(feed.done());
  clock.Advance(std::chrono::seconds(10));
  EXPECT_EQ(feed.Feed(&clock), 2);
  EXPECT_TRUE(feed.done());
  EXPECT_EQ(feed.Feed(&clock), 0);
}

TEST(SimulatorFeedTest, SpeedupScalesThePace) {
  auto sim = MakeSimulator(10);
  MemoryLog log(2);
  FakeClock clock;
  SimulatorFeed feed(sim.get(), &log, /*speedup=*/4, /*resume_at=*/-1);
  EXPECT_EQ(feed.Feed(&clock), 0);
  clock.Advance(std::chrono::milliseconds(250));
  EXPECT_EQ(feed.Feed(&clock), 1);
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(feed.Feed(&clock), 4);
}

TEST(SimulatorFeedTest, AsFastAsPossibleAtSpeedupZeroUpToMaxTicks) {
  auto sim = MakeSimulator(10);
  MemoryLog log(2);
  FakeClock clock;
  SimulatorFeed feed(sim.get(), &log, /*speedup=*/0, /*resume_at=*/-1);
  EXPECT_EQ(feed.Feed(&clock, /*max_ticks=*/3), 3);
  EXPECT_EQ(feed.Feed(&clock), 7);
  EXPECT_TRUE(feed.done());
}

TEST(SimulatorFeedTest, RegeneratesWhatTheCheckpointsCoverWithoutPacing) {
  // What a clean, unpaced run appends in its first 3 ticks...
  int64_t after_three = 0;
  {
    auto sim = MakeSimulator(10);
    MemoryLog log(2);
    FakeClock clock;
    SimulatorFeed feed(sim.get(), &log, 0, -1);
    ASSERT_EQ(feed.Feed(&clock, 3), 3);
    after_three = static_cast<int64_t>(log.next_sequence().value());
  }
  // ... a restart whose checkpoints stand there appends at once, then paces the rest.
  auto sim = MakeSimulator(10);
  MemoryLog log(2);
  FakeClock clock;
  SimulatorFeed feed(sim.get(), &log, /*speedup=*/1, /*resume_at=*/after_three - 1);
  EXPECT_EQ(feed.Feed(&clock), 3);
  EXPECT_EQ(static_cast<int64_t>(log.next_sequence().value()), after_three);
  clock.Advance(std::chrono::milliseconds(999));
  EXPECT_EQ(feed.Feed(&clock), 0);
  clock.Advance(std::chrono::milliseconds(1));
  EXPECT_EQ(feed.Feed(&clock), 1);
}

TEST(SimulatorFeedTest, WaitsForRoomInTheLogUnlessTheReaderHasReadItAll) {
  auto sim = MakeSimulator(20);
  MemoryLog log(1);
  FakeClock clock;
  SimulatorFeed feed(sim.get(), &log, /*speedup=*/0, /*resume_at=*/-1);
  ASSERT_EQ(feed.Feed(&clock, 1), 1);
  const uint64_t tick = log.bytes();  // about one tick's worth
  ASSERT_GT(tick, 0u);
  feed.set_max_log_bytes(3 * tick);
  // Appends while under the bound: at most one tick past it.
  const int more = feed.Feed(&clock);
  EXPECT_GE(more, 1);
  EXPECT_LE(more, 3);
  EXPECT_TRUE(feed.waiting_for_room());
  EXPECT_GE(log.bytes(), 3 * tick);
  EXPECT_LT(log.bytes(), 5 * tick);
  EXPECT_EQ(feed.Feed(&clock), 0);
  EXPECT_TRUE(feed.waiting_for_room());
  // A reader that has read everything gets one more tick, not more.
  EXPECT_EQ(feed.Feed(&clock, 64, /*reader_done=*/true), 1);
  // Trimming makes room.
  std::vector<PartitionPosition> all;
  for (Topic t : kAllTopics)
    all.push_back({TopicPartition{t, PartitionId(0)},
                   ToSourcePosition(SequenceNumber(log.next_sequence().value()))});
  log.Trim(all);
  EXPECT_EQ(log.bytes(), 0u);
  EXPECT_GE(feed.Feed(&clock), 1);
  EXPECT_FALSE(feed.waiting_for_room() && log.bytes() < 3 * tick);
}

TEST(ResumePointTest, IsTheHighestNextPosition) {
  std::vector<PartitionPosition> none;
  EXPECT_EQ(ResumePoint(none), -1);
  std::vector<PartitionPosition> some = {
      {TopicPartition{Topic::kVehicle, PartitionId(0)}, SourcePosition(12)},
      {TopicPartition{Topic::kGps, PartitionId(0)}, std::nullopt},
      {TopicPartition{Topic::kGps, PartitionId(1)}, SourcePosition(40)}};
  EXPECT_EQ(ResumePoint(some), 40);
}

}  // namespace
}  // namespace smartcity::pipeline
