// The processor end to end on the in-memory transport and a local lake: the lake holds each input
// record exactly once, enriched_data equals the batch SQL join of SPEC section 3 over the raw
// tables, and a crash at any object-store call followed by a restart changes nothing in what
// readers see. No external service (in-process DuckDB, a lake in a temporary folder, a fake clock):
// these run in the fast tier, in about 20 s.
#include "pipeline/processor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <span>

#include "lake/delta_log.h"
#include "lake/parquet_writer.h"
#include "pipeline/simulator_feed.h"
#include "simulation/simulator.h"
#include "transport/kafka_client.h"
#include "transport/memory_event_source.h"

namespace smartcity::pipeline {
namespace {

namespace fs = std::filesystem;
using stream::OutputTableName;
constexpr int kPartitions = 4;

struct Produced {
  simulation::SimulationSummary summary;
};

std::unique_ptr<simulation::Simulator> MakeSimulator(std::vector<simulation::FaultSpec> faults) {
  simulation::SimulationOptions o;
  o.seed = 7;
  o.vehicles = 12;
  o.duration = std::chrono::minutes(8);
  o.speedup = 0;
  o.incidents_per_vehicle_hour = 20;  // enough emergencies to exercise the left join
  o.faults = std::move(faults);
  auto sim = simulation::Simulator::Create(o);
  EXPECT_TRUE(sim.ok());
  return sim.ok() ? std::move(*sim) : nullptr;
}

// A simulated message with its own copies of key and value (a tick's messages are views that last
// until the next tick).
struct OwnedMessage {
  Topic topic;
  std::string key, value;
};

// Every message of a fault-free simulation, in the order produced; *produced gets its summary.
std::vector<OwnedMessage> SimulatedMessages(Produced* produced) {
  auto sim = MakeSimulator({});
  EXPECT_NE(sim, nullptr);
  std::vector<OwnedMessage> all;
  if (sim == nullptr) return all;
  std::vector<Message> batch;
  for (bool more = true; more;) {
    more = sim->NextTick(&batch);
    for (const Message& m : batch)
      all.push_back({m.topic, std::string(m.key), std::string(m.value)});
  }
  *produced = Produced{sim->summary()};
  return all;
}

void AppendMessages(MemoryLog* log, std::span<const OwnedMessage> messages) {
  for (const OwnedMessage& m : messages)
    log->Append(m.topic, PartitionId(JavaPartitionForKey(m.key, kPartitions)), m.key, m.value);
}

Produced FillLog(MemoryLog* log, std::vector<simulation::FaultSpec> faults = {}) {
  auto sim = MakeSimulator(std::move(faults));
  std::vector<Message> batch;
  bool more = true;
  while (more) {
    more = sim->NextTick(&batch);
    for (const Message& m : batch) {
      log->Append(m.topic, PartitionId(JavaPartitionForKey(m.key, kPartitions)), m.key, m.value);
    }
  }
  return Produced{sim->summary()};
}

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("processor-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto db = engine::Database::Open("", lake::WriterDatabaseOptions());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ProcessorOptions Options() {
    ProcessorOptions o;
    o.trigger = std::chrono::seconds(3);
    o.max_poll_records = 700;
    o.max_retries = 0;
    o.retry_budget = std::chrono::milliseconds(0);
    o.table.scratch_dir = dir_ / "scratch";
    fs::create_directories(o.table.scratch_dir);
    o.background_commit = background_commit_;
    o.max_join_state_bytes = max_join_state_bytes_;
    if (maintenance_) {
      // Maintenance on the processor's thread after the commits (deterministic), every 4 s. The
      // tests' fake clock runs an hour ahead of the store's (real) object times: every object is
      // past the retentions at once, so every step has something to do. Short epochs, an epoch a
      // step: enough table versions for checkpoints and log clean-up.
      o.trigger = std::chrono::seconds(1);
      o.max_poll_records = 700;
      o.maintenance.enabled = true;
      o.maintenance.background = false;
      o.maintenance.max_small_files = 4;
      o.maintenance.vacuum_retention = std::chrono::seconds(1);
      o.maintenance.log_retention = std::chrono::seconds(1);
      o.maintenance.interval = std::chrono::seconds(4);
    }
    return o;
  }
  bool maintenance_ = false;
  uint64_t max_join_state_bytes_ = 0;
  ProcessorCounters last_counters_;  // of the last RunOnce
  // Epochs are committed on the committer thread, as in production, unless a test needs epoch
  // boundaries fixed by the fake clock alone (a busy committer stretches an epoch past its
  // trigger).
  bool background_commit_ = true;

  // Runs a processor over the whole log; returns the first error (a simulated crash) or the result
  // of Finish().
  Status RunOnce(lake::ObjectStore* store, const MemoryLog& log, FakeClock* clock,
                 MaintenanceCounters* maintenance = nullptr) {
    auto proc = Processor::Open(Options(), store, db_.get(), clock);
    if (!proc.ok()) return proc.status();
    MemoryEventSource source(log, **proc, proc->get());
    (*proc)->Attach(&source);
    SC_RETURN_IF_ERROR(source.AssignPartitions(0, kPartitions - 1));
    while (true) {
      SC_RETURN_IF_ERROR((*proc)->Step());
      clock->Advance(std::chrono::seconds(1));
      bool behind = false;
      for (const PartitionLag& l : source.Lag())
        behind = behind || l.records_behind.value_or(1) > 0;
      bool replaying = false;
      for (const auto& g : (*proc)->Groups()) replaying = replaying || g.replaying;
      if (!behind && !replaying) break;
    }
    Status finished = (*proc)->Finish();
    last_counters_ = (*proc)->counters();
    if (maintenance != nullptr) *maintenance = (*proc)->maintenance_counters();
    return finished;
  }

  // Runs the processor `crashes` times over `log`, each on a fresh lake whose store crashes at one
  // of `total_calls` calls spread over the run (before and after the call in turn), then restarts
  // it and checks the lake is exactly once. `crash_may_end_ok`: a crash in Finish()'s last
  // maintenance pass leaves the run's result OK (maintenance failures never fail the stream), so
  // only the store can say it happened; without maintenance the run must fail too.
  void CrashAndRestart(const MemoryLog& log, const Produced& produced, int total_calls, int crashes,
                       WallTime wall_start, bool crash_may_end_ok) {
    for (int c = 0; c < crashes; ++c) {
      const int nth = 1 + (total_calls - 1) * (c + 1) / (crashes + 1) + c % 3;
      SCOPED_TRACE("crash at store call " + std::to_string(nth));
      const fs::path root = dir_ / ("lake-" + std::to_string(c));
      auto base = lake::LocalObjectStore::Open(root);
      ASSERT_TRUE(base.ok());
      lake::FaultInjectingObjectStore store(base->get());
      lake::FaultInjectingObjectStore::Rule rule;
      rule.nth = nth;
      rule.crash = true;
      rule.when = c % 2 == 0 ? lake::FaultInjectingObjectStore::When::kBefore
                             : lake::FaultInjectingObjectStore::When::kAfter;
      store.AddRule(rule);
      FakeClock clock(wall_start);
      Status first = RunOnce(&store, log, &clock);
      EXPECT_TRUE(store.crashed()) << "the crash did not happen: " << first.message();
      if (!crash_may_end_ok) {
        EXPECT_FALSE(first.ok()) << "the crash was not reported";
      }
      store.ClearRules();
      store.Revive();
      Status second = RunOnce(&store, log, &clock);
      ASSERT_TRUE(second.ok()) << second.message();
      CreateViews(&store);
      ExpectExactlyOnce(produced, /*expect_late=*/false);
    }
  }

  // A DuckDB view per table over its committed files (as any Delta reader would see them).
  void CreateViews(lake::ObjectStore* store) {
    auto conn = db_->Connect();
    ASSERT_TRUE(conn.ok());
    conn_ = std::move(*conn);
    for (size_t i = 0; i < kOutputTableCount; ++i) {
      const std::string table(OutputTableName(static_cast<OutputTable>(i)));
      lake::DeltaLog log(store, table);
      auto snap = log.Load(conn_.get());
      ASSERT_TRUE(snap.ok()) << snap.status().message();
      std::string files;
      for (const auto& [path, f] : snap->files) {
        auto local = store->LocalPath(log.KeyPrefix() + path);
        ASSERT_TRUE(local.has_value());
        files += (files.empty() ? "" : ", ") + engine::QuoteLiteral(local->string());
      }
      std::string sql = "CREATE OR REPLACE VIEW \"" + table + "\" AS ";
      if (files.empty()) {
        sql += "SELECT * FROM (SELECT 1 AS _empty) WHERE false";
      } else {
        sql += "SELECT * FROM read_parquet([" + files + "], hive_partitioning = false)";
      }
      auto r = conn_->Query(sql);
      ASSERT_TRUE(r.ok()) << r.status().message();
    }
  }

  int64_t Scalar(const std::string& sql) {
    auto r = conn_->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().message();
    if (!r.ok() || r->row_count() == 0) return -1;
    return r->GetInt64(0, 0);
  }

  // Everything a reader can check: counts per table, no input record twice, the join oracle.
  void ExpectExactlyOnce(const Produced& produced, bool expect_late) {
    uint64_t emitted = 0, valid = 0;
    for (Topic t : kAllTopics) {
      const size_t i = static_cast<size_t>(t);
      const std::string table(DefaultTopicName(t));
      EXPECT_EQ(Scalar("SELECT count(*) FROM " + table),
                static_cast<int64_t>(produced.summary.valid[i]))
          << table;
      EXPECT_EQ(Scalar("SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM " + table), 0)
          << table;
      emitted += produced.summary.emitted[i];
      valid += produced.summary.valid[i];
    }
    EXPECT_EQ(Scalar("SELECT count(*) FROM _dead_letters"), static_cast<int64_t>(emitted - valid));
    if (!expect_late) {
      EXPECT_EQ(Scalar("SELECT count(*) FROM _late_events"), 0);
      const std::string oracle =
          "SELECT v.deviceId, v.timestamp, v.latitude, v.longitude, v.speed, v.direction, "
          "w.temperature, "
          "w.weatherCondition, e.type AS emergencyType, e.status AS emergencyStatus, e.incidentId "
          "FROM vehicle_data v JOIN weather_data w ON w.deviceId = v.deviceId AND w.timestamp = "
          "v.timestamp "
          "LEFT JOIN emergency_data e ON e.deviceId = v.deviceId AND e.timestamp = v.timestamp";
      const std::string ours =
          "SELECT deviceId, timestamp, latitude, longitude, speed, direction, temperature, "
          "weatherCondition, "
          "emergencyType, emergencyStatus, incidentId FROM enriched_data";
      EXPECT_GT(Scalar("SELECT count(*) FROM enriched_data"), 0);
      EXPECT_EQ(Scalar("SELECT count(*) FROM (" + oracle + " EXCEPT ALL " + ours + ")"), 0);
      EXPECT_EQ(Scalar("SELECT count(*) FROM (" + ours + " EXCEPT ALL " + oracle + ")"), 0);
      EXPECT_GT(Scalar("SELECT count(*) FROM enriched_data WHERE emergencyType IS NOT NULL"), 0);
    } else {
      EXPECT_GT(Scalar("SELECT count(*) FROM _late_events"), 0);
      // A late record is in its raw table, never in enriched_data.
      EXPECT_EQ(Scalar("SELECT count(*) FROM _late_events l JOIN enriched_data e ON l.topic = "
                       "'vehicle_data' "
                       "AND e._vehiclePartition = l.partition AND e._vehicleOffset = l.offset"),
                0);
    }
  }

  // Steps the processor once per fake second for `seconds`; returns the epochs committed meanwhile.
  static uint64_t StepSeconds(Processor* proc, FakeClock* clock, int seconds) {
    const uint64_t before = proc->counters().epochs_committed;
    for (int i = 0; i < seconds; ++i) {
      EXPECT_TRUE(proc->Step().ok());
      clock->Advance(std::chrono::seconds(1));
    }
    return proc->counters().epochs_committed - before;
  }

  fs::path dir_;
  std::unique_ptr<engine::Database> db_;
  std::unique_ptr<engine::Connection> conn_;
};

TEST_F(ProcessorTest, LandsEveryRecordOnceAndMatchesTheBatchJoin) {
  MemoryLog log(kPartitions);
  const Produced produced =
      FillLog(&log, {{simulation::FaultKind::kReorder, 0.02, std::chrono::seconds(5)},
                     {simulation::FaultKind::kDuplicate, 0.01},
                     {simulation::FaultKind::kMalformed, 0.005},
                     {simulation::FaultKind::kMissingField, 0.005}});
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  ASSERT_TRUE(RunOnce(store->get(), log, &clock).ok());
  CreateViews(store->get());
  ExpectExactlyOnce(produced, /*expect_late=*/false);
}

// A finished run started again on the same log reads nothing and writes nothing: no epoch is
// committed and no table gets a Delta version without rows.
// Two members of one group on one lake, with group commit (what `stream` does by default): each
// stages its epochs once it sees the other in the tables' logs, commits take the other's staged
// epochs, and the lake still holds every record once, each epoch in one version of a table.
TEST_F(ProcessorTest, TwoMembersWithGroupCommitLandEveryRecordOnce) {
  MemoryLog log(kPartitions);
  const Produced produced = FillLog(&log, {{simulation::FaultKind::kDuplicate, 0.01}});
  auto base = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(base.ok());
  lake::FaultInjectingObjectStore counting(base->get());
  std::atomic<int> staged_puts{0};
  lake::FaultInjectingObjectStore::Rule count;
  count.op = lake::FaultInjectingObjectStore::Op::kPut;
  count.key_contains = "/_staged/";
  count.times = -1;
  count.error = ErrorKind::kOk;
  count.on_fire = [&] { ++staged_puts; };
  counting.AddRule(count);
  lake::ObjectStore* store = &counting;
  FakeClock clock;
  ProcessorOptions o = Options();
  o.table.group_commit = true;
  o.align_trigger = true;
  std::vector<std::unique_ptr<Processor>> members;
  std::vector<std::unique_ptr<MemoryEventSource>> sources;
  for (int32_t m = 0; m < 2; ++m) {
    auto proc = Processor::Open(o, store, db_.get(), &clock);
    ASSERT_TRUE(proc.ok()) << proc.status().message();
    members.push_back(std::move(*proc));
    sources.push_back(
        std::make_unique<MemoryEventSource>(log, *members.back(), members.back().get()));
    members.back()->Attach(sources.back().get());
    const int32_t half = kPartitions / 2;
    ASSERT_TRUE(sources.back()->AssignPartitions(m * half, m * half + half - 1).ok());
  }
  for (bool behind = true; behind;) {
    behind = false;
    for (size_t m = 0; m < members.size(); ++m) {
      ASSERT_TRUE(members[m]->Step().ok());
      for (const PartitionLag& l : sources[m]->Lag())
        behind = behind || l.records_behind.value_or(1) > 0;
      for (const auto& g : members[m]->Groups()) behind = behind || g.replaying;
    }
    clock.Advance(std::chrono::seconds(1));
  }
  uint64_t staged_taken = 0;
  for (auto& m : members) {
    ASSERT_TRUE(m->Finish().ok());
    staged_taken += m->counters().staged_taken;
  }
  RecordProperty("staged_taken", std::to_string(staged_taken));
  EXPECT_GT(staged_puts.load(), 0) << "no member staged an epoch";
  CreateViews(store);
  ExpectExactlyOnce(produced, /*expect_late=*/false);
  for (size_t i = 0; i < kOutputTableCount; ++i) {
    const std::string table(OutputTableName(static_cast<OutputTable>(i)));
    lake::DeltaLog dlog(store, table);
    auto snap = dlog.Load();
    ASSERT_TRUE(snap.ok());
    std::set<std::pair<std::string, int64_t>> seen;
    for (int64_t v = 1; v <= snap->version; ++v) {
      auto c = dlog.ReadCommit(v);
      ASSERT_TRUE(c.ok()) << c.status().message();
      for (const lake::Txn& t : c->txns)
        EXPECT_TRUE(seen.insert({t.app_id, t.version}).second)
            << table << ": " << t.app_id << " epoch " << t.version << " twice";
    }
    auto staged = store->List(table + "/_staged/");
    ASSERT_TRUE(staged.ok());
    EXPECT_TRUE(staged->empty()) << table << ": a staged epoch left behind";
  }
}

TEST_F(ProcessorTest, AFinishedRunStartedAgainCommitsNothing) {
  MemoryLog log(kPartitions);
  FillLog(&log);
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  ASSERT_TRUE(RunOnce(store->get(), log, &clock).ok());
  auto versions = [&] {
    auto objects = (*store)->List("");
    EXPECT_TRUE(objects.ok());
    std::vector<std::string> keys;
    for (const lake::ObjectInfo& o : *objects) {
      if (o.key.find("_delta_log/") != std::string::npos) keys.push_back(o.key);
    }
    return keys;
  };
  const std::vector<std::string> before = versions();
  ASSERT_FALSE(before.empty());
  ASSERT_TRUE(RunOnce(store->get(), log, &clock).ok());
  EXPECT_EQ(last_counters_.records, 0u);
  EXPECT_EQ(last_counters_.epochs_committed, 0u);
  EXPECT_EQ(versions(), before);
}

// An input that falls silent: each group goes on committing its empty epochs for
// quiet_commit_after, then commits nothing (no Delta version, no checkpoint) until it reads again;
// then it commits at its triggers as before, and the lake holds every record once.
TEST_F(ProcessorTest, AQuietGroupStopsCommittingEmptyEpochsUntilItReadsAgain) {
  Produced produced;
  const std::vector<OwnedMessage> all = SimulatedMessages(&produced);
  ASSERT_FALSE(all.empty());
  const std::span<const OwnedMessage> messages(all);
  MemoryLog log(kPartitions);
  const size_t half = all.size() / 2;
  AppendMessages(&log, messages.first(half));
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  background_commit_ = false;      // epochs committed at the fake clock's triggers, not later
  ProcessorOptions o = Options();  // a trigger every 3 s
  o.quiet_commit_after = std::chrono::seconds(30);
  auto proc = Processor::Open(o, store->get(), db_.get(), &clock);
  ASSERT_TRUE(proc.ok()) << proc.status().message();
  MemoryEventSource source(log, **proc, proc->get());
  (*proc)->Attach(&source);
  ASSERT_TRUE(source.AssignPartitions(0, kPartitions - 1).ok());
  auto delta_objects = [&] {
    auto objects = (*store)->List("");
    EXPECT_TRUE(objects.ok());
    size_t n = 0;
    for (const lake::ObjectInfo& o : *objects) n += o.key.find("_delta_log/") != std::string::npos;
    return n;
  };
  auto steps = [&](int seconds) { return StepSeconds(proc->get(), &clock, seconds); };
  EXPECT_GT(steps(60), 0u);  // the first half read and committed (1 minute: the input's end)
  // Silent: empty epochs for 30 s at most (4 groups, one epoch each per 3 s trigger), then none.
  EXPECT_LE(steps(60), 4u * (30 / 3 + 2));
  const size_t objects = delta_objects();
  const uint64_t epochs = (*proc)->counters().epochs_committed;
  EXPECT_EQ(steps(300), 0u) << "empty epochs committed by a quiet stream";
  EXPECT_EQ(delta_objects(), objects);
  // Input again: committed at the triggers, and quiet again afterwards.
  AppendMessages(&log, messages.subspan(half));
  EXPECT_GT(steps(60), 0u);
  EXPECT_GT((*proc)->counters().epochs_committed, epochs);
  steps(60);
  EXPECT_EQ(steps(100), 0u);
  ASSERT_TRUE((*proc)->Finish().ok());
  CreateViews(store->get());
  ExpectExactlyOnce(produced, /*expect_late=*/false);
}

// A quiet spell ends without input too: when a silent input's idle timeout (here longer than
// quiet_commit_after) releases the join watermark, the group commits what that emits.
TEST_F(ProcessorTest, AQuietGroupCommitsWhenItsWatermarkIsReleased) {
  MemoryLog log(kPartitions);
  const Produced produced = FillLog(&log);
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  background_commit_ = false;
  ProcessorOptions o = Options();  // a trigger every 3 s
  o.quiet_commit_after = std::chrono::seconds(30);
  o.core.join.watermark.idle_timeout = std::chrono::seconds(120);
  auto proc = Processor::Open(o, store->get(), db_.get(), &clock);
  ASSERT_TRUE(proc.ok()) << proc.status().message();
  MemoryEventSource source(log, **proc, proc->get());
  (*proc)->Attach(&source);
  ASSERT_TRUE(source.AssignPartitions(0, kPartitions - 1).ok());
  auto steps = [&](int seconds) { return StepSeconds(proc->get(), &clock, seconds); };
  // Read in the first 20 s (700 records a step), committed, then 30 s of empty epochs.
  EXPECT_GT(steps(60), 0u);
  EXPECT_EQ(steps(60), 0u);  // quiet, 60..120 s: nothing committed
  EXPECT_GT(steps(40), 0u);  // the inputs' idle timeout (120 s after their last record) moves the
                             // join watermark: committed
  ASSERT_TRUE((*proc)->Finish().ok());
  CreateViews(store->get());
  ExpectExactlyOnce(produced, /*expect_late=*/false);
}

// A source that delivers one topic's whole backlog before the next (as Kafka's fetches can): the
// join would hold every vehicle reading until the weather arrives. With a bound on the join state
// the processor pauses the inputs that run ahead and resumes them as the others catch up: every
// record still lands exactly once and the join's output is the batch join's. (How far this bounds
// the state is measured on a real drain: tests/e2e/stream_memory.sh.)
TEST_F(ProcessorTest, InputsRunningAheadWaitAndTheJoinStateStaysBounded) {
  Produced produced;
  std::vector<OwnedMessage> all = SimulatedMessages(&produced);
  ASSERT_FALSE(all.empty());
  // The log numbers records in append order and the source reads in that order: topic by topic.
  std::stable_sort(all.begin(), all.end(),
                   [](const OwnedMessage& a, const OwnedMessage& b) { return a.topic < b.topic; });
  MemoryLog log(kPartitions);
  AppendMessages(&log, all);

  max_join_state_bytes_ = 64 << 10;
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  ASSERT_TRUE(RunOnce(store->get(), log, &clock).ok());
  EXPECT_GT(last_counters_.input_holds, 0u);
  EXPECT_GT(last_counters_.join_state_peak_bytes, 0u);
  CreateViews(store->get());
  ExpectExactlyOnce(produced, /*expect_late=*/false);
}

// Every kind of bad input the simulator makes goes through the whole processor into _dead_letters,
// with its reason and payload; nothing is lost and nothing stops the pipeline. scripts/test.sh also
// runs this test in the ASan+UBSan build.
TEST_F(ProcessorTest, BadInputOfEveryKindLandsInDeadLettersWithItsReason) {
  MemoryLog log(kPartitions);
  const Produced produced = FillLog(&log, {{simulation::FaultKind::kMalformed, 0.02},
                                           {simulation::FaultKind::kWrongType, 0.02},
                                           {simulation::FaultKind::kMissingField, 0.02},
                                           {simulation::FaultKind::kOversize, 0.005}});
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  ASSERT_TRUE(RunOnce(store->get(), log, &clock).ok());
  CreateViews(store->get());
  ExpectExactlyOnce(produced, /*expect_late=*/false);
  // One reason per kind, and the raw payload kept (oversize ones truncated and flagged).
  EXPECT_GT(Scalar("SELECT count(*) FROM _dead_letters WHERE reason LIKE 'invalid JSON%'"), 0);
  EXPECT_GT(Scalar("SELECT count(*) FROM _dead_letters WHERE reason LIKE 'missing field%'"), 0);
  EXPECT_GT(Scalar("SELECT count(*) FROM _dead_letters WHERE reason LIKE '%: expected %'"), 0);
  EXPECT_GT(Scalar("SELECT count(*) FROM _dead_letters WHERE reason LIKE 'payload of%'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM _dead_letters WHERE reason IS NULL OR reason = '' OR "
                   "payload IS NULL "
                   "OR topic IS NULL OR partition IS NULL OR \"offset\" IS NULL"),
            0);
  EXPECT_GT(Scalar("SELECT count(*) FROM _dead_letters WHERE reason LIKE 'payload of%' AND "
                   "payloadBytes >= 200000"),
            0);
}

TEST_F(ProcessorTest, LateEventsAreKeptButNotJoined) {
  // Lateness depends on where epochs start (the watermark moves only then): fix them to the clock.
  background_commit_ = false;
  MemoryLog log(kPartitions);
  const Produced produced =
      FillLog(&log, {{simulation::FaultKind::kLate, 0.01, std::chrono::minutes(5)}});
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  ASSERT_TRUE(RunOnce(store->get(), log, &clock).ok());
  CreateViews(store->get());
  ExpectExactlyOnce(produced, /*expect_late=*/true);
}

TEST_F(ProcessorTest, CrashAtAnyStoreCallThenRestartIsExactlyOnce) {
  // Epoch boundaries, and so the store calls, fixed by the fake clock. With the committer thread a
  // slower run (a sanitizer build) merged epochs behind a busy committer and made fewer calls than
  // the probe, so the last crash points were never reached. Crashes inside the committer thread's
  // commits are the e2e crash tests' (e2e.run_exactly_once, e2e.stream_exactly_once).
  background_commit_ = false;
  MemoryLog log(kPartitions);
  const Produced produced = FillLog(&log, {{simulation::FaultKind::kDuplicate, 0.01}});
  // Count the store calls of a clean run to spread crash points over all of them.
  int total_calls = 0;
  {
    auto base = lake::LocalObjectStore::Open(dir_ / "probe");
    ASSERT_TRUE(base.ok());
    lake::FaultInjectingObjectStore counting(base->get());
    FakeClock clock;
    ASSERT_TRUE(RunOnce(&counting, log, &clock).ok());
    total_calls = counting.calls(lake::FaultInjectingObjectStore::Op::kAny);
  }
  ASSERT_GT(total_calls, 50);
  CrashAndRestart(log, produced, total_calls, /*crashes=*/12, FakeClock::kDefaultWallStart,
                  /*crash_may_end_ok=*/false);
}

// The same with lake maintenance after every commit: a crash during a compaction commit, a log
// clean-up or a vacuum is as harmless as any other, and the restarted processor stays exactly once
// (its txn versions are read back from checkpoints after the log before them is gone).
TEST_F(ProcessorTest, CrashAtAnyStoreCallWithMaintenanceThenRestartIsExactlyOnce) {
  maintenance_ = true;
  background_commit_ = false;  // epoch boundaries (and so the store calls) fixed by the fake clock
  MemoryLog log(kPartitions);
  const Produced produced = FillLog(&log, {{simulation::FaultKind::kDuplicate, 0.01}});
  int total_calls = 0;
  {
    auto base = lake::LocalObjectStore::Open(dir_ / "probe");
    ASSERT_TRUE(base.ok());
    lake::FaultInjectingObjectStore counting(base->get());
    FakeClock clock(WallClock::now() + std::chrono::hours(1));
    MaintenanceCounters m;
    ASSERT_TRUE(RunOnce(&counting, log, &clock, &m).ok());
    total_calls = counting.calls(lake::FaultInjectingObjectStore::Op::kAny);
    // Every maintenance step ran, so the crashes below land in them too.
    EXPECT_GT(m.compactions, 0u);
    EXPECT_GT(m.log_entries_deleted, 0u);
    EXPECT_GT(m.files_vacuumed, 0u);
    EXPECT_EQ(m.errors, 0u);
    std::printf(
        "probe: %d store calls, %llu compactions, %llu log entries and %llu files deleted\n",
        total_calls, static_cast<unsigned long long>(m.compactions),
        static_cast<unsigned long long>(m.log_entries_deleted),
        static_cast<unsigned long long>(m.files_vacuumed));
    CreateViews(&counting);
    ExpectExactlyOnce(produced, /*expect_late=*/false);
  }
  CrashAndRestart(log, produced, total_calls, /*crashes=*/8,
                  WallClock::now() + std::chrono::hours(1), /*crash_may_end_ok=*/true);
}

// A damaged state checkpoint stops the restart with one message naming the file and the fix; doing
// what it says (deleting the file) restarts from the checkpoint before it, exactly once.
TEST_F(ProcessorTest, ADamagedCheckpointIsReportedAndDeletingItRecovers) {
  background_commit_ = false;
  MemoryLog log(kPartitions);
  const Produced produced = FillLog(&log);
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  ASSERT_TRUE(RunOnce(store->get(), log, &clock).ok());
  auto states = (*store)->List("_checkpoints/smartcity/p0/state/");
  ASSERT_TRUE(states.ok());
  ASSERT_GE(states->size(), 2u);
  std::string newest;
  for (const lake::ObjectInfo& o : *states) newest = std::max(newest, o.key);
  auto blob = (*store)->Get(newest);
  ASSERT_TRUE(blob.ok());
  // A torn write: the header line cut short.
  ASSERT_TRUE((*store)->Put(newest, blob->substr(0, 20)).ok());

  Status damaged = RunOnce(store->get(), log, &clock);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.kind(), ErrorKind::kCorruption);
  EXPECT_NE(damaged.message().find(newest), std::string::npos) << damaged.message();
  EXPECT_NE(damaged.message().find("Delete that file"), std::string::npos) << damaged.message();

  ASSERT_TRUE((*store)->Delete(newest).ok());
  Status recovered = RunOnce(store->get(), log, &clock);
  ASSERT_TRUE(recovered.ok()) << recovered.message();
  CreateViews(store->get());
  ExpectExactlyOnce(produced, /*expect_late=*/false);
}

// `run`'s loop: the feed waits for room in a bounded log, epochs close by the input they read, and
// the log is trimmed to the committed checkpoints. The log stays within its bound, a checkpoint
// never stands past what was read, and every record lands once.
TEST_F(ProcessorTest, ABoundedLogTrimmedToTheCheckpointsLandsEveryRecordOnce) {
  auto sim = MakeSimulator({{simulation::FaultKind::kDuplicate, 0.01}});
  ASSERT_NE(sim, nullptr);
  MemoryLog log(kPartitions);
  constexpr uint64_t kLogBytes = 1 << 20;
  ProcessorOptions o = Options();
  o.trigger = std::chrono::hours(1);  // epochs close by their input alone
  o.max_epoch_input_bytes = kLogBytes / 4;
  // The log holds the epoch in flight and the one filling, each up to its input bound plus one
  // poll (and the log's per-record overhead): within kLogBytes with these polls.
  o.max_poll_records = 400;
  auto store = lake::LocalObjectStore::Open(dir_ / "lake");
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  auto proc = Processor::Open(o, store->get(), db_.get(), &clock);
  ASSERT_TRUE(proc.ok());
  MemoryEventSource source(log, **proc, proc->get());
  (*proc)->Attach(&source);
  ASSERT_TRUE(source.AssignPartitions(0, kPartitions - 1).ok());
  SimulatorFeed feed(sim.get(), &log, /*speedup=*/0, /*resume_at=*/-1);
  feed.set_max_log_bytes(kLogBytes);
  uint64_t peak = 0, tick_bytes = 0;
  bool behind = false;
  int waits = 0;
  for (;;) {
    const uint64_t before = log.bytes();
    const int ticks = feed.Feed(&clock, 64, /*reader_done=*/!behind);
    if (ticks > 0 && log.bytes() > before)
      tick_bytes = std::max(tick_bytes, (log.bytes() - before + ticks - 1) / ticks);
    waits += feed.waiting_for_room() ? 1 : 0;
    peak = std::max(peak, log.bytes());
    ASSERT_TRUE((*proc)->Step().ok());
    std::map<TopicPartition, std::optional<SourcePosition>> read;
    for (const PartitionPosition& p : source.Positions()) read[p.tp] = p.next;
    for (const PartitionPosition& p : (*proc)->CommittedPositions()) {
      if (p.next) {
        ASSERT_TRUE(read[p.tp].has_value());
        EXPECT_LE(*p.next, *read[p.tp]);
      }
    }
    log.Trim((*proc)->CommittedPositions());
    behind = false;
    for (const PartitionLag& l : source.Lag()) behind = behind || l.records_behind.value_or(1) > 0;
    if (feed.done() && !behind) break;
  }
  ASSERT_TRUE((*proc)->Finish().ok());
  EXPECT_GT(waits, 0) << "the bound never held the feed back";
  EXPECT_GT((*proc)->counters().epochs_committed, 3u * kPartitions);
  // The bound, plus at most one tick.
  EXPECT_LE(peak, kLogBytes + tick_bytes) << "one tick: " << tick_bytes;
  log.Trim((*proc)->CommittedPositions());
  EXPECT_EQ(log.bytes(), 0u);
  CreateViews(store->get());
  ExpectExactlyOnce(Produced{sim->summary()}, /*expect_late=*/false);
}

}  // namespace
}  // namespace smartcity::pipeline
