// The loop of `run` and `stream` on a FakeClock: it ends when the input is done, when asked to stop
// or when the processor fails; it reports progress and feeds the live view at their cadence, and
// waits instead of spinning when nothing is due. `run`'s input (the paced simulator) drives a real
// processor over a lake in a temporary folder; so does `stream`'s (SourceInput, --stop-when-idle)
// over a log whose partitions end with transaction markers, or whose lag is unknown, and with
// --stop-at-end over a log a producer keeps writing to.
#include "pipeline/driver.h"

#include <gtest/gtest.h>

#include <set>

#include "lake/parquet_writer.h"
#include "pipeline/idle_detector.h"
#include "pipeline/simulator_feed.h"
#include "simulation/simulator.h"
#include "testing/files.h"
#include "transport/memory_event_source.h"

namespace smartcity::pipeline {
namespace {

constexpr int kPartitions = 2;

class DriveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = engine::Database::Open("", lake::WriterDatabaseOptions());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    auto store = lake::LocalObjectStore::Open(dir_ / "lake");
    ASSERT_TRUE(store.ok()) << store.status().message();
    local_ = std::move(*store);
    store_ = local_.get();
  }

  void OpenProcessor() {
    ProcessorOptions o;
    o.trigger = std::chrono::seconds(5);
    o.table.scratch_dir = dir_ / "scratch";
    std::filesystem::create_directories(o.table.scratch_dir);
    o.background_commit = false;
    auto proc = Processor::Open(o, store_, db_.get(), &clock_);
    ASSERT_TRUE(proc.ok()) << proc.status().message();
    proc_ = std::move(*proc);
    source_ = std::make_unique<MemoryEventSource>(log_, *proc_, proc_.get());
    proc_->Attach(source_.get());
    ASSERT_TRUE(source_->AssignPartitions(0, kPartitions - 1).ok());
  }

  std::unique_ptr<simulation::Simulator> Simulator(int seconds) {
    simulation::SimulationOptions o;
    o.seed = 11;
    o.vehicles = 3;
    o.duration = std::chrono::seconds(seconds);
    auto sim = simulation::Simulator::Create(o);
    EXPECT_TRUE(sim.ok());
    return std::move(*sim);
  }

  test::TempDir dir_{"driver-test"};
  FakeClock clock_;
  std::unique_ptr<engine::Database> db_;
  std::unique_ptr<lake::LocalObjectStore> local_;
  lake::ObjectStore* store_ = nullptr;
  MemoryLog log_{kPartitions};
  std::unique_ptr<Processor> proc_;
  std::unique_ptr<MemoryEventSource> source_;
};

TEST_F(DriveTest, RunsAPacedSimulationToItsEndReportingEachSecond) {
  OpenProcessor();
  auto sim = Simulator(20);
  SimulatorFeed feed(sim.get(), &log_, /*speedup=*/1, /*resume_at=*/-1);
  SimulatorInput input(&feed, &clock_, &log_, proc_.get());
  int reports = 0, lives = 0;
  double events_per_s = 0;
  DriveOptions o;
  o.clock = &clock_;
  o.idle_wait = std::chrono::milliseconds(5);
  o.on_live = [&](const DriveStep& s) {
    ++lives;
    EXPECT_EQ(s.groups.size(), static_cast<size_t>(kPartitions));
  };
  o.on_report = [&](const DriveReport& r) {
    ++reports;
    events_per_s = std::max(events_per_s, r.events_per_s);
    EXPECT_GE(r.seconds, reports * 1.0);
  };
  const DriveResult r = Drive(proc_.get(), source_.get(), &input, std::move(o)).Run();
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.end, DriveEnd::kInputDone);
  // Paced at real time on the fake clock: the 20 ticks take 20 s, waited out 5 ms at a time.
  EXPECT_GE(r.seconds, 20.0);
  EXPECT_LT(r.seconds, 21.0);
  EXPECT_GE(reports, 19);
  EXPECT_LE(reports, 21);
  EXPECT_GE(lives, 4 * reports);  // every 250 ms
  EXPECT_GT(events_per_s, 0);
  // Everything the simulator produced was read.
  EXPECT_EQ(proc_->counters().records, log_.next_sequence().value());
  EXPECT_EQ(proc_->counters().records, sim->summary().TotalEmitted());
  EXPECT_TRUE(proc_->Finish().ok());
}

class CountingInput final : public DriveInput {
 public:
  explicit CountingInput(int done_after) : done_after_(done_after) {}
  int Feed() override { return 0; }
  bool Done(const DriveStep& step) override { return ++turns_ >= done_after_; }
  int turns() const { return turns_; }

 private:
  int done_after_;
  int turns_ = 0;
};

TEST_F(DriveTest, StopsWhenAskedBeforeTheNextTurn) {
  OpenProcessor();
  CountingInput input(1'000'000);
  std::atomic<bool> stop{false};
  DriveOptions o;
  o.clock = &clock_;
  o.stop = &stop;
  o.idle_wait = std::chrono::milliseconds(10);
  o.on_report = [&](const DriveReport& r) { stop = true; };
  const DriveResult r = Drive(proc_.get(), source_.get(), &input, std::move(o)).Run();
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.end, DriveEnd::kStopped);
  // Turns at 0, 10, ..., 1000 ms: the first report comes at the 101st, and the loop ends after it.
  EXPECT_EQ(input.turns(), 101);
}

TEST_F(DriveTest, EndsWithTheProcessorsFailure) {
  lake::FaultInjectingObjectStore faulty(local_.get());
  store_ = &faulty;
  OpenProcessor();
  auto sim = Simulator(600);  // about ten turns of 64 ticks
  SimulatorFeed feed(sim.get(), &log_, /*speedup=*/0, /*resume_at=*/-1);
  SimulatorInput input(&feed, &clock_, &log_, proc_.get());
  // Every write of the first epoch's offsets log fails for good.
  lake::FaultInjectingObjectStore::Rule rule;
  rule.op = lake::FaultInjectingObjectStore::Op::kPutIfAbsent;
  rule.key_contains = "/offsets/";
  rule.times = -1;
  rule.error = ErrorKind::kPermissionDenied;
  faulty.AddRule(rule);
  DriveOptions o;
  o.clock = &clock_;
  // Each turn is a second later: the 5 s trigger closes an epoch after five turns.
  o.on_live = [&](const DriveStep&) { clock_.Advance(std::chrono::seconds(1)); };
  o.live_every = Micros(0);
  const DriveResult r = Drive(proc_.get(), source_.get(), &input, std::move(o)).Run();
  EXPECT_EQ(r.end, DriveEnd::kFailed);
  EXPECT_EQ(r.status.kind(), ErrorKind::kPermissionDenied) << r.status.message();
}

// The simulator's whole output in the log at once (`stream` reading a backlog).
void FillLog(simulation::Simulator* sim, MemoryLog* log, Clock* clock) {
  SimulatorFeed feed(sim, log, /*speedup=*/0, /*resume_at=*/-1);
  while (!feed.done()) feed.Feed(clock, 1'000);
}

// Each turn is 100 ms later; the loop gives up (kStopped) after `limit`.
DriveOptions StepByStep(FakeClock* clock, std::atomic<bool>* stop, Micros limit,
                        std::vector<DriveStep>* steps = nullptr) {
  DriveOptions o;
  o.clock = clock;
  o.stop = stop;
  o.live_every = Micros(0);
  const ProcessingTime start = clock->Now();
  o.on_live = [=](const DriveStep& s) {
    if (steps != nullptr) steps->push_back(s);
    clock->Advance(std::chrono::milliseconds(100));
    if (clock->Now() - start >= limit) *stop = true;
  };
  return o;
}

TEST_F(DriveTest, StopWhenIdleSeesThroughTransactionMarkersAtTheEnd) {
  OpenProcessor();
  auto sim = Simulator(120);
  FillLog(sim.get(), &log_, &clock_);
  std::set<int32_t> with_vehicles;
  for (int32_t p = 0; p < kPartitions; ++p) {
    const TopicPartition tp{Topic::kVehicle, PartitionId(p)};
    if (log_.end(tp) > log_.begin(tp)) with_vehicles.insert(p);
  }
  ASSERT_FALSE(with_vehicles.empty());
  // A transactional producer's commit marker ends every partition, and partition 1's emergency
  // input (no emergency at all in two minutes of three vehicles) holds nothing but markers.
  for (Topic t : kAllTopics) {
    for (int32_t p = 0; p < kPartitions; ++p) log_.AppendControl(t, PartitionId(p));
  }
  for (int i = 0; i < 3; ++i) log_.AppendControl(Topic::kEmergency, PartitionId(1));
  // Idle for longer than the trigger (5 s): an epoch starts after everything was read, at the
  // watermark the inputs allow.
  SourceInput input(source_.get(), std::chrono::seconds(8), clock_.Now());
  std::atomic<bool> stop{false};
  const DriveResult r =
      Drive(proc_.get(), source_.get(), &input, StepByStep(&clock_, &stop, std::chrono::minutes(2)))
          .Run();
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.end, DriveEnd::kInputDone) << "the markers were counted as unread records";
  EXPECT_LT(r.seconds, 15.0);
  EXPECT_EQ(proc_->counters().records, sim->summary().TotalEmitted());
  for (const PartitionLag& l : source_->Lag()) {
    EXPECT_EQ(l.records_behind, std::optional<int64_t>(0)) << ToString(l.tp, TopicNames{});
  }
  // No input whose only unread positions are markers holds its group's watermark back.
  for (const Processor::GroupStatus& g : proc_->Groups()) {
    if (!with_vehicles.contains(g.group)) continue;  // no data: no watermark
    EXPECT_GT(g.watermark, EventTime::min()) << "group " << g.group << " is held back";
  }
  EXPECT_TRUE(proc_->Finish().ok());
}

TEST_F(DriveTest, StopWhenIdleNeverStopsWhileTheLagIsUnknown) {
  OpenProcessor();
  auto sim = Simulator(60);
  FillLog(sim.get(), &log_, &clock_);
  // The transport is unreachable: silence is not idleness.
  source_->SetLagUnknown(true);
  SourceInput input(source_.get(), std::chrono::seconds(2), clock_.Now());
  std::atomic<bool> stop{false};
  std::vector<DriveStep> steps;
  DriveResult r = Drive(proc_.get(), source_.get(), &input,
                        StepByStep(&clock_, &stop, std::chrono::seconds(30), &steps))
                      .Run();
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.end, DriveEnd::kStopped);
  EXPECT_EQ(proc_->counters().records, sim->summary().TotalEmitted());
  ASSERT_FALSE(steps.empty());
  EXPECT_FALSE(steps.back().lag_known);
  // The transport is back: the same input stops once idle.
  source_->SetLagUnknown(false);
  stop = false;
  r = Drive(proc_.get(), source_.get(), &input,
            StepByStep(&clock_, &stop, std::chrono::seconds(30)))
          .Run();
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.end, DriveEnd::kInputDone);
  EXPECT_TRUE(proc_->Finish().ok());
}

TEST_F(DriveTest, StopAtEndDoesNotWaitForAProducerThatNeverPauses) {
  OpenProcessor();
  auto sim = Simulator(60);
  FillLog(sim.get(), &log_, &clock_);
  const uint64_t backlog = sim->summary().TotalEmitted();
  // After every turn a producer adds a record to every partition of the gps topic: the input is
  // never idle, and its ends keep moving.
  std::string value;
  for (int32_t p = 0; p < kPartitions && value.empty(); ++p) {
    const TopicPartition tp{Topic::kGps, PartitionId(p)};
    if (log_.end(tp) > log_.begin(tp)) value = log_.at(tp, log_.begin(tp)).value;
  }
  ASSERT_FALSE(value.empty());
  auto produce = [&] {
    for (int32_t p = 0; p < kPartitions; ++p)
      log_.Append(Topic::kGps, PartitionId(p), "late", value);
  };
  std::atomic<bool> stop{false};
  // Drives `input` for up to 20 s of the fake clock, producing more after every step.
  auto drive = [&](SourceInput* input) {
    stop = false;
    DriveOptions o = StepByStep(&clock_, &stop, std::chrono::seconds(20));
    auto advance = o.on_live;
    o.on_live = [&](const DriveStep& s) {
      advance(s);
      produce();
    };
    return Drive(proc_.get(), source_.get(), input, std::move(o)).Run();
  };
  {
    // --stop-when-idle never stops.
    SourceInput idle(source_.get(), std::chrono::seconds(2), clock_.Now());
    const DriveResult r = drive(&idle);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    EXPECT_EQ(r.end, DriveEnd::kStopped);
  }
  // --stop-at-end stops at the ends its partitions had when it started, however much comes after.
  const uint64_t read_before = proc_->counters().records;
  const uint64_t in_log = log_.next_sequence().value();
  SourceInput at_end(source_.get(), StopRule::AtEnd(), clock_.Now());
  const DriveResult r = drive(&at_end);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.end, DriveEnd::kInputDone);
  EXPECT_EQ(at_end.target_queries(), 1);
  EXPECT_GE(proc_->counters().records, in_log);  // everything there at its start was read
  EXPECT_GT(proc_->counters().records, read_before);
  EXPECT_GE(read_before, backlog);
  EXPECT_TRUE(proc_->Finish().ok());
}

// A source whose remembered ends say "caught up" but which cannot read them now (QueryLag fails):
// a bounded run does not stop on a remembered end.
class UnconfirmedSource final : public EventSource {
 public:
  explicit UnconfirmedSource(MemoryEventSource* s) : s_(s) {}
  PositionKind position_kind() const override { return s_->position_kind(); }
  Result<std::span<const SourceRecord>> Poll(size_t n, std::chrono::milliseconds t) override {
    return s_->Poll(n, t);
  }
  std::vector<TopicPartition> Assignment() const override { return s_->Assignment(); }
  std::vector<PartitionPosition> Positions() const override { return s_->Positions(); }
  Status Seek(std::span<const PartitionPosition> p) override { return s_->Seek(p); }
  Status Pause(std::span<const TopicPartition> p) override { return s_->Pause(p); }
  Status Resume(std::span<const TopicPartition> p) override { return s_->Resume(p); }
  std::vector<PartitionLag> Lag() override { return s_->Lag(); }
  Result<std::vector<PartitionLag>> QueryLag() override {
    return Status::Unavailable("cannot reach the transport");
  }
  const SourceCounters& counters() const override { return s_->counters(); }
  Status Close() override { return s_->Close(); }
  std::string Describe() const override { return "unconfirmed"; }

 private:
  MemoryEventSource* s_;
};

TEST_F(DriveTest, StopWhenIdleNeedsTheEndsReadNow) {
  OpenProcessor();
  auto sim = Simulator(30);
  FillLog(sim.get(), &log_, &clock_);
  UnconfirmedSource unconfirmed(source_.get());
  SourceInput input(&unconfirmed, std::chrono::seconds(2), clock_.Now());
  std::atomic<bool> stop{false};
  const DriveResult r = Drive(proc_.get(), source_.get(), &input,
                              StepByStep(&clock_, &stop, std::chrono::seconds(20)))
                            .Run();
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.end, DriveEnd::kStopped);
  EXPECT_EQ(proc_->counters().records, sim->summary().TotalEmitted());
}

}  // namespace
}  // namespace smartcity::pipeline
