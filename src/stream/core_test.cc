// StreamCore against an oracle: simulated streams (with and without faults) go through the parser
// and the streaming join in micro-batches of random size; the enriched rows must equal, as a
// multiset, a straightforward nested-loop batch join over the raw rows the same run produced, minus
// the records reported late. Late reports must be exactly the records the simulator held back past
// the watermark.
#include "stream/core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "simulation/simulator.h"
#include "stream/tables.h"

namespace smartcity::stream {
namespace {

using simulation::FaultKind;
using simulation::FaultSpec;
using simulation::SimulationOptions;
using simulation::Simulator;

struct OwnedRecord {
  Topic topic;
  int64_t offset;
  std::string payload;
  Micros held_for;  // how long after its event time the simulator released it (late/reorder faults)
};

std::vector<OwnedRecord> Simulate(const SimulationOptions& options,
                                  std::array<uint64_t, kTopicCount>* valid) {
  auto sim = Simulator::Create(options);
  EXPECT_TRUE(sim.ok()) << sim.status().message();
  std::vector<OwnedRecord> records;
  std::vector<Message> tick;
  bool more = true;
  while (more) {
    more = (*sim)->NextTick(&tick);
    for (const Message& m : tick) {
      records.push_back({m.topic, static_cast<int64_t>(records.size()), std::string(m.value),
                         std::max(Micros(0), (*sim)->now() - m.event_time)});
    }
  }
  *valid = (*sim)->summary().valid;
  return records;
}

void AppendAll(const RecordBatch& from, RecordBatch* to) {
  for (size_t r = 0; r < from.num_rows(); ++r) to->AppendRow(from, r);
}

void AppendOutput(const StreamOutput& from, StreamOutput* to) {
  for (Topic t : kAllTopics) AppendAll(from.Raw(t), &to->Raw(t));
  AppendAll(from.enriched, &to->enriched);
  AppendAll(from.dead_letters, &to->dead_letters);
  AppendAll(from.late_events, &to->late_events);
}

struct RunConfig {
  JoinOptions join;
  uint64_t batch_seed = 1;
  size_t max_batch = 1500;
  bool advance_clock = true;
  // Serialize the state, drop the core and restore a new one before these batch numbers.
  std::set<size_t> restore_before;
};

StreamOutput RunStream(const std::vector<OwnedRecord>& records, const RunConfig& config) {
  FakeClock clock;
  StreamCoreOptions options;
  options.join = config.join;
  auto core = std::make_unique<StreamCore>(options, &clock);
  std::mt19937_64 rng(config.batch_seed);
  StreamOutput total, out;
  const WallTime received = WallTime(Micros(1'800'000'000'000'000LL));
  std::vector<InputRecord> batch;
  size_t pos = 0, batch_no = 0;
  while (pos < records.size()) {
    if (config.restore_before.count(batch_no) != 0) {
      std::string blob;
      EXPECT_TRUE(core->SerializeState(&blob).ok());
      core = std::make_unique<StreamCore>(options, &clock);
      const Status s = core->RestoreState(blob);
      EXPECT_TRUE(s.ok()) << s.message();
    }
    const size_t n = std::min<size_t>(records.size() - pos, 1 + rng() % config.max_batch);
    batch.clear();
    for (size_t i = pos; i < pos + n; ++i) {
      batch.push_back(InputRecord{
          records[i].topic,
          SourcePosition{PartitionId(static_cast<int32_t>(records[i].topic)), records[i].offset},
          records[i].payload});
    }
    pos += n;
    out.Clear();
    core->Process(batch, received, &out);
    if (config.advance_clock) clock.Advance(std::chrono::milliseconds(rng() % 1500));
    core->AdvanceWatermark(&out);
    AppendOutput(out, &total);
    ++batch_no;
  }
  out.Clear();
  core->Flush(&out);
  AppendOutput(out, &total);
  return total;
}

std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Every enriched row as one comparable string.
std::vector<std::string> EnrichedRows(const RecordBatch& e) {
  std::vector<std::string> rows;
  for (size_t r = 0; r < e.num_rows(); ++r) {
    std::string s;
    for (size_t c = 0; c < e.num_columns(); ++c) {
      const Column& col = e.column(c);
      if (col.IsNull(r)) {
        s += "NULL|";
        continue;
      }
      switch (col.type()) {
        case LogicalType::kString:
          s += col.GetString(r);
          break;
        case LogicalType::kInt32:
        case LogicalType::kDate:
          s += std::to_string(col.GetInt32(r));
          break;
        case LogicalType::kInt64:
        case LogicalType::kTimestamp:
          s += std::to_string(col.GetInt64(r));
          break;
        case LogicalType::kDouble:
          s += Num(col.GetDouble(r));
          break;
        case LogicalType::kBool:
          s += col.GetBool(r) ? "true" : "false";
          break;
      }
      s += '|';
    }
    rows.push_back(std::move(s));
  }
  return rows;
}

// The batch SQL join over the raw tables, as a plain nested loop (per device), skipping late
// records.
std::vector<std::string> OracleJoin(const StreamOutput& out, Micros window,
                                    const std::set<std::pair<std::string, int64_t>>& late) {
  RecordBatch expected(EnrichedSchema());
  const RecordBatch& v = out.Raw(Topic::kVehicle);
  const RecordBatch& w = out.Raw(Topic::kWeather);
  const RecordBatch& e = out.Raw(Topic::kEmergency);
  auto is_late = [&](std::string_view topic, int64_t offset) {
    return late.count({std::string(topic), offset}) != 0;
  };
  std::map<std::string, std::vector<size_t>, std::less<>> w_by_dev, e_by_dev;
  for (size_t r = 0; r < w.num_rows(); ++r) {
    if (!is_late("weather_data", w.column(weather_col::kOffset).GetInt64(r))) {
      w_by_dev[std::string(w.column(weather_col::kDeviceId).GetString(r))].push_back(r);
    }
  }
  for (size_t r = 0; r < e.num_rows(); ++r) {
    if (!is_late("emergency_data", e.column(emergency_col::kOffset).GetInt64(r))) {
      e_by_dev[std::string(e.column(emergency_col::kDeviceId).GetString(r))].push_back(r);
    }
  }
  const int64_t j = window.count();
  const std::vector<size_t> none;
  for (size_t vr = 0; vr < v.num_rows(); ++vr) {
    if (is_late("vehicle_data", v.column(vehicle_col::kOffset).GetInt64(vr))) continue;
    const std::string dev(v.column(vehicle_col::kDeviceId).GetString(vr));
    const int64_t vts = v.column(vehicle_col::kTimestamp).GetInt64(vr);
    auto wit = w_by_dev.find(dev);
    auto eit = e_by_dev.find(dev);
    const std::vector<size_t>& ws = wit == w_by_dev.end() ? none : wit->second;
    const std::vector<size_t>& es = eit == e_by_dev.end() ? none : eit->second;
    std::vector<size_t> e_match;
    for (size_t er : es) {
      const int64_t ets = e.column(emergency_col::kTimestamp).GetInt64(er);
      if (ets >= vts - j && ets <= vts + j) e_match.push_back(er);
    }
    for (size_t wr : ws) {
      const int64_t wts = w.column(weather_col::kTimestamp).GetInt64(wr);
      if (wts < vts - j || wts > vts + j) continue;
      auto emit = [&](const size_t* er) {
        using namespace enriched_col;
        expected.column(kDeviceId).AppendString(dev);
        expected.column(kTimestamp).AppendInt64(vts);
        expected.column(kLatitude).AppendDouble(v.column(vehicle_col::kLatitude).GetDouble(vr));
        expected.column(kLongitude).AppendDouble(v.column(vehicle_col::kLongitude).GetDouble(vr));
        expected.column(kSpeed).AppendDouble(v.column(vehicle_col::kSpeed).GetDouble(vr));
        expected.column(kDirection).AppendString(v.column(vehicle_col::kDirection).GetString(vr));
        expected.column(kTemperature)
            .AppendDouble(w.column(weather_col::kTemperature).GetDouble(wr));
        expected.column(kWeatherCondition)
            .AppendString(w.column(weather_col::kWeatherCondition).GetString(wr));
        expected.column(kPrecipitation)
            .AppendDouble(w.column(weather_col::kPrecipitation).GetDouble(wr));
        expected.column(kWindSpeed).AppendDouble(w.column(weather_col::kWindSpeed).GetDouble(wr));
        expected.column(kHumidity).AppendInt32(w.column(weather_col::kHumidity).GetInt32(wr));
        expected.column(kAirQualityIndex)
            .AppendInt32(w.column(weather_col::kAirQualityIndex).GetInt32(wr));
        if (er != nullptr) {
          expected.column(kEmergencyType)
              .AppendString(e.column(emergency_col::kType).GetString(*er));
          expected.column(kEmergencyStatus)
              .AppendString(e.column(emergency_col::kStatus).GetString(*er));
          expected.column(kIncidentId)
              .AppendString(e.column(emergency_col::kIncidentId).GetString(*er));
        } else {
          expected.column(kEmergencyType).AppendNull();
          expected.column(kEmergencyStatus).AppendNull();
          expected.column(kIncidentId).AppendNull();
        }
        expected.column(kVehiclePartition)
            .AppendInt32(v.column(vehicle_col::kPartition).GetInt32(vr));
        expected.column(kVehicleOffset).AppendInt64(v.column(vehicle_col::kOffset).GetInt64(vr));
        expected.column(kWeatherPartition)
            .AppendInt32(w.column(weather_col::kPartition).GetInt32(wr));
        expected.column(kWeatherOffset).AppendInt64(w.column(weather_col::kOffset).GetInt64(wr));
        if (er != nullptr) {
          expected.column(kEmergencyPartition)
              .AppendInt32(e.column(emergency_col::kPartition).GetInt32(*er));
          expected.column(kEmergencyOffset)
              .AppendInt64(e.column(emergency_col::kOffset).GetInt64(*er));
        } else {
          expected.column(kEmergencyPartition).AppendNull();
          expected.column(kEmergencyOffset).AppendNull();
        }
        expected.column(kDate).AppendString(v.column(vehicle_col::kDate).GetString(vr));
      };
      if (e_match.empty()) {
        emit(nullptr);
      } else {
        for (size_t er : e_match) emit(&er);
      }
    }
  }
  return EnrichedRows(expected);
}

struct Scenario {
  const char* name;
  std::vector<FaultSpec> faults;
  Micros window{0};
  bool advance_clock = true;
};

#if defined(__SANITIZE_ADDRESS__)
constexpr int kVehicles =
    10;  // sanitizers slow everything down ~10x: a smaller city, same coverage
#else
constexpr int kVehicles = 20;
#endif

SimulationOptions SimOptions(const Scenario& s, uint64_t seed) {
  SimulationOptions o;
  o.seed = seed;
  o.vehicles = kVehicles;
  o.duration = std::chrono::minutes(12);
  o.incidents_per_vehicle_hour = 12;  // plenty of emergencies to join
  o.speedup = 0;
  o.faults = s.faults;
  return o;
}

void CheckAgainstOracle(const Scenario& s, uint64_t seed) {
  SCOPED_TRACE(std::string(s.name) + " seed " + std::to_string(seed));
  std::array<uint64_t, kTopicCount> valid{};
  const std::vector<OwnedRecord> records = Simulate(SimOptions(s, seed), &valid);
  RunConfig config;
  config.join.window = s.window;
  config.batch_seed = seed * 7 + 1;
  config.advance_clock = s.advance_clock;
  const StreamOutput out = RunStream(records, config);

  // Every record is in exactly one of: its raw table, _dead_letters.
  size_t raw_rows = 0;
  for (Topic t : kAllTopics) {
    EXPECT_EQ(out.Raw(t).num_rows(), valid[static_cast<size_t>(t)]) << DefaultTopicName(t);
    raw_rows += out.Raw(t).num_rows();
  }
  EXPECT_EQ(raw_rows + out.dead_letters.num_rows(), records.size());

  // Late reports: every join-input record the simulator held back well past D (2 min) is late, none
  // held back well within it is. (At the end of a run the simulator releases what it still holds,
  // so a few late-fault records arrive only a little after D: either verdict is right for those.)
  std::set<std::pair<std::string, int64_t>> late;
  for (size_t r = 0; r < out.late_events.num_rows(); ++r) {
    late.emplace(std::string(out.late_events.column(late_event_col::kTopic).GetString(r)),
                 out.late_events.column(late_event_col::kOffset).GetInt64(r));
    EXPECT_GT(out.late_events.column(late_event_col::kLatenessMicros).GetInt64(r), 0);
  }
  EXPECT_EQ(late.size(), out.late_events.num_rows()) << "each late record reported once";
  size_t must_be_late = 0, ambiguous = 0;
  for (const OwnedRecord& r : records) {
    if (r.topic != Topic::kVehicle && r.topic != Topic::kWeather && r.topic != Topic::kEmergency)
      continue;
    const bool reported = late.count({std::string(DefaultTopicName(r.topic)), r.offset}) != 0;
    if (r.held_for > std::chrono::minutes(3)) {
      ++must_be_late;
      EXPECT_TRUE(reported) << "held back " << r.held_for.count()
                            << " us but not reported late: " << r.payload;
    } else if (r.held_for < std::chrono::seconds(90)) {
      EXPECT_FALSE(reported) << "held back only " << r.held_for.count()
                             << " us but reported late: " << r.payload;
    } else {
      ++ambiguous;
    }
  }
  EXPECT_LE(late.size(), must_be_late + ambiguous);
  EXPECT_LT(ambiguous, must_be_late / 4 + 5);
  if (!s.faults.empty() && s.faults[0].kind == FaultKind::kLate) {
    EXPECT_GT(must_be_late, 100u);
  } else {
    EXPECT_EQ(late.size(), 0u) << "no late faults, no late records";
  }

  std::vector<std::string> got = EnrichedRows(out.enriched);
  std::vector<std::string> want = OracleJoin(out, s.window, late);
  EXPECT_GT(want.size(), 5000u);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "the streaming join differs from the batch join";
  // The test is only meaningful when both kinds of rows occur.
  size_t with_emergency = 0;
  for (size_t r = 0; r < out.enriched.num_rows(); ++r)
    with_emergency += !out.enriched.column(enriched_col::kIncidentId).IsNull(r);
  EXPECT_GT(with_emergency, 0u);
  EXPECT_LT(with_emergency, out.enriched.num_rows());
}

TEST(StreamCoreOracleTest, NoFaultsExactTimestamp) {
  CheckAgainstOracle({"no faults", {}, Micros(0), true}, 1);
  CheckAgainstOracle({"no faults, frozen clock", {}, Micros(0), false}, 2);
}

TEST(StreamCoreOracleTest, ReorderWithinDelayAndDuplicates) {
  const std::vector<FaultSpec> faults = {{FaultKind::kReorder, 0.05, std::chrono::seconds(40)},
                                         {FaultKind::kDuplicate, 0.02, Micros(0)}};
  CheckAgainstOracle({"reorder+dup J=0", faults, Micros(0), true}, 3);
  CheckAgainstOracle({"reorder+dup J=3s", faults, std::chrono::seconds(3), true}, 4);
}

TEST(StreamCoreOracleTest, LateAndBadRecords) {
  const std::vector<FaultSpec> faults = {{FaultKind::kLate, 0.01, std::chrono::minutes(10)},
                                         {FaultKind::kReorder, 0.03, std::chrono::seconds(30)},
                                         {FaultKind::kDuplicate, 0.01, Micros(0)},
                                         {FaultKind::kMalformed, 0.005, Micros(0)},
                                         {FaultKind::kWrongType, 0.005, Micros(0)},
                                         {FaultKind::kMissingField, 0.005, Micros(0)},
                                         {FaultKind::kOversize, 0.001, Micros(0)}};
  CheckAgainstOracle({"late+bad J=0", faults, Micros(0), true}, 5);
  CheckAgainstOracle({"late+bad J=2s", faults, std::chrono::seconds(2), true}, 6);
}

TEST(StreamCoreTest, DeadLettersCarryTheirReason) {
  std::array<uint64_t, kTopicCount> valid{};
  SimulationOptions o = SimOptions({"bad",
                                    {{FaultKind::kWrongType, 0.05, Micros(0)},
                                     {FaultKind::kMissingField, 0.05, Micros(0)},
                                     {FaultKind::kMalformed, 0.05, Micros(0)},
                                     {FaultKind::kOversize, 0.01, Micros(0)}}},
                                   9);
  o.duration = std::chrono::minutes(2);
  const std::vector<OwnedRecord> records = Simulate(o, &valid);
  const StreamOutput out = RunStream(records, RunConfig{});
  ASSERT_GT(out.dead_letters.num_rows(), 100u);
  std::map<std::string, int> kinds;
  for (size_t r = 0; r < out.dead_letters.num_rows(); ++r) {
    const std::string reason(out.dead_letters.column(dead_letter_col::kReason).GetString(r));
    const std::string kind = reason.rfind("missing field", 0) == 0             ? "missing"
                             : reason.rfind("invalid JSON", 0) == 0            ? "malformed"
                             : reason.rfind("payload of", 0) == 0              ? "oversize"
                             : reason.find(": expected ") != std::string::npos ? "wrong type"
                                                                               : reason;
    kinds[kind]++;
    const int64_t offset = out.dead_letters.column(dead_letter_col::kOffset).GetInt64(r);
    EXPECT_EQ(out.dead_letters.column(dead_letter_col::kPayload).GetString(r),
              records[static_cast<size_t>(offset)].payload);
  }
  EXPECT_EQ(kinds.size(), 4u) << [&] {
    std::string s;
    for (auto& [k, n] : kinds) s += k + "=" + std::to_string(n) + "; ";
    return s;
  }();
}

TEST(StreamCoreCheckpointTest, RestoreAtRandomPointsGivesIdenticalOutput) {
  const std::vector<FaultSpec> faults = {{FaultKind::kLate, 0.01, std::chrono::minutes(10)},
                                         {FaultKind::kReorder, 0.03, std::chrono::seconds(30)},
                                         {FaultKind::kDuplicate, 0.01, Micros(0)}};
  std::array<uint64_t, kTopicCount> valid{};
  SimulationOptions o = SimOptions({"ckpt", faults}, 11);
  o.duration = std::chrono::minutes(10);
  const std::vector<OwnedRecord> records = Simulate(o, &valid);
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(seed);
    RunConfig config;
    config.join.window = std::chrono::seconds(2);
    config.batch_seed = seed;
    config.max_batch = 700;
    const StreamOutput straight = RunStream(records, config);
    std::mt19937_64 rng(seed + 100);
    for (int i = 0; i < 6; ++i) config.restore_before.insert(rng() % 120);
    const StreamOutput restored = RunStream(records, config);
    ASSERT_GT(straight.enriched.num_rows(), 5000u);
    EXPECT_TRUE(EnrichedRows(straight.enriched) == EnrichedRows(restored.enriched))
        << "same rows in the same order";
    EXPECT_EQ(straight.late_events.num_rows(), restored.late_events.num_rows());
    EXPECT_GT(straight.late_events.num_rows(), 0u);
  }
}

}  // namespace
}  // namespace smartcity::stream
