// The loop of `run` and `stream` on a FakeClock: it ends when the input is done, when asked to stop
// or when the processor fails; it reports progress and feeds the live view at their cadence, and
// waits instead of spinning when nothing is due. `run`'s input (the paced simulator) drives a real
// processor over a lake in a temporary folder.
#include "pipeline/driver.h"

#include <gtest/gtest.h>

#include "lake/parquet_writer.h"
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

}  // namespace
}  // namespace smartcity::pipeline
