#include "web/live_state.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "stream/core.h"
#include "stream/tables.h"
#include "web/api.h"

namespace smartcity::web {
namespace {

using stream::OutputTable;

EventTime At(int64_t seconds) {
  return EventTime(std::chrono::seconds(1'767'596'400 + seconds));
}

void AddVehicle(stream::StreamOutput* out, std::string_view device, int64_t t, double lat,
                double lon, double speed) {
  namespace c = stream::vehicle_col;
  RecordBatch& b = out->Raw(Topic::kVehicle);
  b.column(c::kId).AppendString("id");
  b.column(c::kDeviceId).AppendString(device);
  b.column(c::kTimestamp).AppendTimestamp(At(t));
  b.column(c::kLatitude).AppendDouble(lat);
  b.column(c::kLongitude).AppendDouble(lon);
  b.column(c::kSpeed).AppendDouble(speed);
  b.column(c::kDirection).AppendString("NW");
  b.column(c::kMake).AppendString("BMW");
  b.column(c::kModel).AppendString("C500");
  b.column(c::kYear).AppendInt32(2024);
  b.column(c::kFuelType).AppendString("Hybrid");
  b.column(c::kPartition).AppendInt32(0);
  b.column(c::kOffset).AppendInt64(t);
  b.column(c::kDate).AppendString("2026-01-05");
}

void AddWeather(stream::StreamOutput* out, std::string_view device, int64_t t, double temperature) {
  namespace c = stream::weather_col;
  RecordBatch& b = out->Raw(Topic::kWeather);
  b.column(c::kId).AppendString("w");
  b.column(c::kDeviceId).AppendString(device);
  b.column(c::kLatitude).AppendDouble(51.5);
  b.column(c::kLongitude).AppendDouble(-0.2);
  b.column(c::kTimestamp).AppendTimestamp(At(t));
  b.column(c::kTemperature).AppendDouble(temperature);
  b.column(c::kWeatherCondition).AppendString("Rain");
  b.column(c::kPrecipitation).AppendDouble(1.5);
  b.column(c::kWindSpeed).AppendDouble(12);
  b.column(c::kHumidity).AppendInt32(80);
  b.column(c::kAirQualityIndex).AppendInt32(40);
  b.column(c::kPartition).AppendInt32(0);
  b.column(c::kOffset).AppendInt64(t);
  b.column(c::kDate).AppendString("2026-01-05");
}

void AddEmergency(stream::StreamOutput* out, std::string_view incident, int64_t t,
                  std::string_view status) {
  namespace c = stream::emergency_col;
  RecordBatch& b = out->Raw(Topic::kEmergency);
  b.column(c::kId).AppendString("e");
  b.column(c::kDeviceId).AppendString("V1");
  b.column(c::kIncidentId).AppendString(incident);
  b.column(c::kType).AppendString("Accident");
  b.column(c::kTimestamp).AppendTimestamp(At(t));
  b.column(c::kLatitude).AppendDouble(51.6);
  b.column(c::kLongitude).AppendDouble(-0.5);
  b.column(c::kStatus).AppendString(status);
  b.column(c::kDescription).AppendString("two cars");
  b.column(c::kPartition).AppendInt32(0);
  b.column(c::kOffset).AppendInt64(t);
  b.column(c::kDate).AppendString("2026-01-05");
}

void AddDeadLetter(stream::StreamOutput* out, std::string_view topic,
                   std::string_view reason = "not JSON") {
  namespace c = stream::dead_letter_col;
  RecordBatch& b = out->dead_letters;
  b.column(c::kTopic).AppendString(topic);
  b.column(c::kPartition).AppendInt32(0);
  b.column(c::kOffset).AppendInt64(1);
  b.column(c::kPayload).AppendString("{bad");
  b.column(c::kPayloadEncoding).AppendString("utf-8");
  b.column(c::kPayloadBytes).AppendInt64(4);
  b.column(c::kPayloadTruncated).AppendBool(false);
  b.column(c::kReason).AppendString(reason);
  b.column(c::kReceivedAt).AppendTimestamp(At(0));
  b.column(c::kDate).AppendString("2026-01-05");
}

stream::OutputMarks Marks(const stream::StreamOutput& out) {
  stream::OutputMarks m{};
  for (size_t t = 0; t < stream::kOutputTableCount; ++t)
    m[t] = stream::OutputOf(out, static_cast<OutputTable>(t)).num_rows();
  return m;
}

ProcessMetrics Rss(uint64_t bytes) {
  ProcessMetrics p;
  p.resident_bytes = bytes;
  return p;
}

class LiveStateTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  LiveState state_{LiveStateOptions{}, &clock_};
  stream::StreamOutput out_;
};

TEST_F(LiveStateTest, KeepsTheLatestPositionPerVehicleAndOnlyNewRows) {
  AddVehicle(&out_, "V1", 10, 51.5, -0.1, 50);
  AddVehicle(&out_, "V2", 10, 51.6, -0.3, 60);
  state_.OnRows(0, out_, stream::OutputMarks{});
  // The batch grows; only rows from `first` on are new. An older (late) position does not win.
  const auto first = Marks(out_);
  AddVehicle(&out_, "V1", 20, 51.7, -0.6, 70);
  AddVehicle(&out_, "V2", 5, 0, 0, 0);
  state_.OnRows(0, out_, first);

  const LiveSnapshot s = state_.Snapshot();
  ASSERT_EQ(s.vehicles.size(), 2u);
  EXPECT_EQ(s.vehicles[0].device_id, "V1");
  EXPECT_DOUBLE_EQ(s.vehicles[0].latitude, 51.7);
  EXPECT_DOUBLE_EQ(s.vehicles[0].speed, 70);
  EXPECT_EQ(s.vehicles[0].at, At(20));
  EXPECT_DOUBLE_EQ(s.vehicles[1].latitude, 51.6);
  EXPECT_EQ(s.events_in[static_cast<size_t>(Topic::kVehicle)], 4u);
  EXPECT_EQ(s.rows_out[static_cast<size_t>(OutputTable::kVehicle)], 4u);
}

TEST_F(LiveStateTest, VehiclesThatLeftTheRoadLeaveTheView) {
  // V1 and V2 on the road in group 0, V3 in group 1; then only V1 goes on, 20 minutes on.
  AddVehicle(&out_, "V1", 10, 51.5, -0.1, 50);
  AddVehicle(&out_, "V2", 10, 51.6, -0.3, 60);
  state_.OnRows(0, out_, stream::OutputMarks{});
  stream::StreamOutput other;
  AddVehicle(&other, "V3", 10, 51.6, -0.3, 60);
  state_.OnRows(1, other, stream::OutputMarks{});
  for (int minute = 1; minute <= 20; ++minute) {
    const auto first = Marks(out_);
    AddVehicle(&out_, "V1", 10 + minute * 60, 51.5, -0.1, 50);
    state_.OnRows(0, out_, first);
  }
  const LiveSnapshot s = state_.Snapshot();
  std::vector<std::string> ids;
  for (const VehicleView& v : s.vehicles) ids.push_back(v.device_id);
  // V2 was not heard from for 20 minutes of its group's event time; V3's group did not move.
  EXPECT_EQ(ids, (std::vector<std::string>{"V1", "V3"}));
}

TEST_F(LiveStateTest, ReplayedRowsLeaveThePositionsAsTheyWere) {
  AddVehicle(&out_, "V1", 10, 51.5, -0.1, 50);
  AddVehicle(&out_, "V1", 11, 51.6, -0.2, 55);
  state_.OnRows(0, out_, stream::OutputMarks{});
  state_.OnRows(0, out_, stream::OutputMarks{});  // the same epoch again after a restart
  const LiveSnapshot s = state_.Snapshot();
  ASSERT_EQ(s.vehicles.size(), 1u);
  EXPECT_DOUBLE_EQ(s.vehicles[0].latitude, 51.6);
}

TEST_F(LiveStateTest, AttachesTheLatestWeatherToItsVehicle) {
  AddVehicle(&out_, "V1", 10, 51.5, -0.1, 50);
  AddWeather(&out_, "V1", 10, 7.5);
  AddWeather(&out_, "V1", 8, -3);
  AddWeather(&out_, "V9", 10, 1);  // no position yet: not shown
  state_.OnRows(0, out_, stream::OutputMarks{});
  const LiveSnapshot s = state_.Snapshot();
  ASSERT_EQ(s.vehicles.size(), 1u);
  ASSERT_TRUE(s.vehicles[0].weather.has_value());
  EXPECT_DOUBLE_EQ(s.vehicles[0].weather->temperature, 7.5);
  EXPECT_EQ(s.vehicles[0].weather->condition, "Rain");
}

TEST_F(LiveStateTest, IncidentsTakeTheirLatestStatus) {
  AddEmergency(&out_, "I1", 10, "Active");
  AddEmergency(&out_, "I2", 10, "Active");
  AddEmergency(&out_, "I1", 30, "Resolved");
  state_.OnRows(0, out_, stream::OutputMarks{});
  const LiveSnapshot s = state_.Snapshot();
  ASSERT_EQ(s.incidents.size(), 2u);
  EXPECT_FALSE(s.incidents[0].active());
  EXPECT_TRUE(s.incidents[1].active());
  const auto j = nlohmann::json::parse(IncidentsJson(s));
  EXPECT_EQ(j["active"], 1);
}

TEST_F(LiveStateTest, CountsDeadLettersByTopicNameAndRatesPerSecond) {
  LiveStateOptions o;
  o.topic_names[Topic::kGps] = "city.gps";
  LiveState state(o, &clock_);
  clock_.Advance(std::chrono::seconds(100));
  AddVehicle(&out_, "V1", 10, 51.5, -0.1, 50);
  AddDeadLetter(&out_, "city.gps");
  AddDeadLetter(&out_, "vehicle_data");
  AddDeadLetter(&out_, "who-knows");
  state.OnRows(0, out_, stream::OutputMarks{});
  clock_.Advance(std::chrono::seconds(2));
  const auto first = Marks(out_);
  AddVehicle(&out_, "V1", 11, 51.5, -0.1, 50);
  AddVehicle(&out_, "V1", 12, 51.5, -0.1, 50);
  state.OnRows(0, out_, first);

  const LiveSnapshot s = state.Snapshot();
  EXPECT_EQ(s.dead_letters[static_cast<size_t>(Topic::kGps)], 1u);
  EXPECT_EQ(s.dead_letters[static_cast<size_t>(Topic::kVehicle)], 1u);
  EXPECT_EQ(s.dead_letters_other, 1u);
  EXPECT_EQ(s.quarantined[static_cast<size_t>(Topic::kVehicle)], 0u);
  EXPECT_EQ(s.events_in[static_cast<size_t>(Topic::kVehicle)], 4u);  // 3 valid + 1 dead letter
  EXPECT_EQ(s.events_in[static_cast<size_t>(Topic::kGps)], 1u);
  const auto& v = s.rates[static_cast<size_t>(Topic::kVehicle)];
  ASSERT_EQ(v.size(), static_cast<size_t>(kRateSeconds));
  EXPECT_EQ(v[kRateSeconds - 1], 2u);  // now
  EXPECT_EQ(v[kRateSeconds - 2], 0u);
  EXPECT_EQ(v[kRateSeconds - 3], 2u);  // two seconds ago: one valid + one dead letter
  // Ten minutes later the history has moved past them.
  clock_.Advance(std::chrono::seconds(kRateSeconds));
  const LiveSnapshot later = state.Snapshot();
  for (uint32_t n : later.rates[static_cast<size_t>(Topic::kVehicle)]) EXPECT_EQ(n, 0u);
}

TEST_F(LiveStateTest, CommitsAndProgressShowInTheStatusAndMetrics) {
  AddVehicle(&out_, "V1", 10, 51.5, -0.1, 50);
  state_.OnRows(3, out_, stream::OutputMarks{});
  pipeline::EpochCommit c;
  c.groups = {3};
  c.rows[static_cast<size_t>(OutputTable::kVehicle)] = 1;
  c.latency = std::chrono::milliseconds(12);
  c.at = AsWallTime(At(100));
  state_.OnCommit(c);
  pipeline::ProcessorCounters counters;
  counters.records = 1;
  counters.epochs_committed = 1;
  PartitionLag lag;
  lag.tp = {Topic::kGps, PartitionId(3)};
  lag.records_behind = 42;
  const std::vector<pipeline::Processor::GroupStatus> groups = {{3, 7, At(4), false}};
  const std::vector<PartitionLag> lags = {lag};
  state_.UpdateProgress(groups, lags, counters);

  const LiveSnapshot s = state_.Snapshot();
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].committed_epoch, 7);
  EXPECT_EQ(*s.groups[0].watermark, At(4));
  EXPECT_EQ(*s.groups[0].max_event_time, At(10));
  const auto j = nlohmann::json::parse(StatusJson(s));
  EXPECT_EQ(j["rowsCommitted"]["vehicle_data"], 1);
  EXPECT_EQ(j["groups"][0]["watermarkLagSeconds"], 6.0);
  EXPECT_EQ(j["inputs"][0]["recordsBehind"], 42);
  EXPECT_EQ(j["inputs"][0]["topic"], "gps_data");
  EXPECT_EQ(j["commits"][0]["latencyMs"], 12.0);
  EXPECT_EQ(j["health"]["state"], "running");

  const std::string m = MetricsText(s, Rss(1234));
  EXPECT_NE(m.find("smartcity_rows_out_total{table=\"vehicle_data\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("smartcity_events_in_total{topic=\"vehicle_data\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("smartcity_watermark_lag_seconds{group=\"3\"} 6\n"), std::string::npos);
  EXPECT_NE(m.find("smartcity_input_lag_records{topic=\"gps_data\",partition=\"3\"} 42\n"),
            std::string::npos);
  EXPECT_NE(m.find("process_resident_memory_bytes 1234\n"), std::string::npos);
  EXPECT_NE(m.find("smartcity_last_commit_latency_seconds 0.012\n"), std::string::npos);
  EXPECT_EQ(j["lagKnown"], true);
  EXPECT_NE(m.find("smartcity_lag_known 1\n"), std::string::npos);

  // The cluster cannot be reached: the lag is unknown, not 0. No lag sample, and it says so.
  const std::vector<PartitionLag> unknown = {PartitionLag{lag.tp, {}, {}, std::nullopt}};
  state_.UpdateProgress(groups, unknown, counters);
  const LiveSnapshot out = state_.Snapshot();
  EXPECT_EQ(nlohmann::json::parse(StatusJson(out))["lagKnown"], false);
  EXPECT_TRUE(nlohmann::json::parse(StatusJson(out))["inputs"][0]["recordsBehind"].is_null());
  const std::string mo = MetricsText(out, Rss(1234));
  EXPECT_NE(mo.find("smartcity_lag_known 0\n"), std::string::npos) << mo;
  EXPECT_EQ(mo.find("smartcity_input_lag_records{"), std::string::npos) << mo;

  // A rebalance that takes group 3 away removes it from the view.
  state_.UpdateProgress({}, {}, counters);
  EXPECT_TRUE(state_.Snapshot().groups.empty());
}

LoadView Load(std::string table, int64_t first, int64_t last, uint64_t rows, int64_t lake,
              int64_t unix_seconds) {
  LoadView v;
  v.at = WallTime(std::chrono::seconds(unix_seconds));
  v.table = std::move(table);
  v.first_version = first;
  v.last_version = last;
  v.rows = rows;
  v.seconds = 0.5;
  v.lake_version = lake;
  return v;
}

// Every sample reads back exactly: counts beyond a double's 53 bits, Unix times with their
// milliseconds; commit latency is a histogram; build and process metrics are there.
TEST_F(LiveStateTest, MetricsAreExactWithAHistogramAndProcessMetrics) {
  for (int64_t ms : {3, 12, 700, 45'000}) {
    pipeline::EpochCommit c;
    c.groups = {3};
    c.latency = std::chrono::milliseconds(ms);
    c.at = AsWallTime(At(100));
    state_.OnCommit(c);
  }
  pipeline::ProcessorCounters counters;
  counters.records = (uint64_t{1} << 53) + 1;
  counters.commit_conflicts = 5;
  counters.commits_by_others = 12;
  counters.staged_taken = 13;
  counters.misplaced = 11;
  counters.forwarded = 10;
  counters.repartition_received = 9;
  counters.repartition_duplicates = 2;
  const EventTime watermark = At(10) + std::chrono::milliseconds(123);
  const std::vector<pipeline::Processor::GroupStatus> groups = {{3, 7, watermark, false}};
  state_.UpdateProgress(groups, {}, counters);
  LoadView load = Load("enriched_data", 0, 0, 1, 0, 0);
  load.at = WallTime(std::chrono::milliseconds(1'767'596'402'007));
  state_.RecordLoad(load);
  ProcessMetrics p;
  p.cpu_seconds = 1.25;
  p.resident_bytes = 1234;
  p.virtual_bytes = (uint64_t{1} << 53) + 3;
  p.start_time_seconds = 1'767'596'399.57;
  p.open_fds = 9;
  p.max_fds = 1024;
  const std::string m = MetricsText(state_.Snapshot(), p);
  for (const char* line : {
           "smartcity_records_total 9007199254740993\n",
           "smartcity_commit_conflicts_total 5\n",
           "smartcity_group_commits_by_others_total 12\n",
           "smartcity_group_staged_taken_total 13\n",
           "smartcity_repartition_misplaced_total 11\n",
           "smartcity_repartition_forwarded_total 10\n",
           "smartcity_repartition_received_total 9\n",
           "smartcity_repartition_duplicates_total 2\n",
           "smartcity_watermark_timestamp_seconds{group=\"3\"} 1767596410.123\n",
           "smartcity_load_last_timestamp_seconds{table=\"enriched_data\"} 1767596402.007\n",
           "# TYPE smartcity_commit_latency_seconds histogram\n",
           "smartcity_commit_latency_seconds_bucket{le=\"0.005\"} 1\n",
           "smartcity_commit_latency_seconds_bucket{le=\"0.01\"} 1\n",
           "smartcity_commit_latency_seconds_bucket{le=\"0.025\"} 2\n",
           "smartcity_commit_latency_seconds_bucket{le=\"0.5\"} 2\n",
           "smartcity_commit_latency_seconds_bucket{le=\"1\"} 3\n",
           "smartcity_commit_latency_seconds_bucket{le=\"30\"} 3\n",
           "smartcity_commit_latency_seconds_bucket{le=\"+Inf\"} 4\n",
           "smartcity_commit_latency_seconds_sum 45.715\n",
           "smartcity_commit_latency_seconds_count 4\n",
           "smartcity_last_commit_latency_seconds 45\n",
           "smartcity_build_info{version=\"0.1.0\",",
           "process_cpu_seconds_total 1.25\n",
           "process_resident_memory_bytes 1234\n",
           "process_virtual_memory_bytes 9007199254740995\n",
           "process_start_time_seconds 1767596399.57\n",
           "process_open_fds 9\n",
           "process_max_fds 1024\n",
       }) {
    EXPECT_NE(m.find(line), std::string::npos) << line << " not in:\n" << m;
  }
  // A histogram's samples follow its TYPE line, the buckets in ascending order.
  EXPECT_LT(m.find("# TYPE smartcity_commit_latency_seconds histogram"),
            m.find("smartcity_commit_latency_seconds_bucket{le=\"0.005\"}"));
  EXPECT_LT(m.find("le=\"30\""), m.find("le=\"+Inf\""));
}

TEST_F(LiveStateTest, WarehouseLoadsShowInTheStatusAndMetrics) {
  // Nothing loaded yet: no load series, an empty list.
  {
    const LiveSnapshot s = state_.Snapshot();
    EXPECT_TRUE(nlohmann::json::parse(StatusJson(s))["loads"].empty());
    EXPECT_EQ(MetricsText(s, ProcessMetrics{}).find("smartcity_load_rows_total{"),
              std::string::npos);
  }
  state_.RecordLoad(Load("enriched_data", 0, 3, 100, 5, 1'767'596'400));
  state_.RecordLoad(Load("vehicle_data", 0, 0, 7, 0, 1'767'596'401));
  state_.RecordLoad(Load("enriched_data", 4, 4, 20, 6, 1'767'596'402));

  const LiveSnapshot s = state_.Snapshot();
  ASSERT_EQ(s.loads.size(), 3u);
  ASSERT_EQ(s.load_tables.size(), 2u);
  EXPECT_EQ(s.load_tables[0].table, "enriched_data");
  EXPECT_EQ(s.load_tables[0].rows, 120u);
  EXPECT_EQ(s.load_tables[0].loaded_version, 4);
  EXPECT_EQ(s.load_tables[0].lake_version, 6);

  const auto j = nlohmann::json::parse(StatusJson(s));
  ASSERT_EQ(j["loads"].size(), 3u);
  EXPECT_EQ(j["loads"][0]["table"], "enriched_data");  // newest first
  EXPECT_EQ(j["loads"][0]["firstVersion"], 4);
  EXPECT_EQ(j["loads"][0]["lastVersion"], 4);
  EXPECT_EQ(j["loads"][0]["rows"], 20);
  EXPECT_EQ(j["loads"][0]["lakeVersion"], 6);
  EXPECT_EQ(j["loads"][2]["rows"], 100);
  ASSERT_EQ(j["loadTables"].size(), 2u);
  EXPECT_EQ(j["loadTables"][0]["lagVersions"], 2);
  EXPECT_EQ(j["loadTables"][1]["lagVersions"], 0);

  const std::string m = MetricsText(s, ProcessMetrics{});
  EXPECT_NE(m.find("smartcity_load_rows_total{table=\"enriched_data\"} 120\n"), std::string::npos)
      << m;
  EXPECT_NE(m.find("smartcity_load_rows_total{table=\"vehicle_data\"} 7\n"), std::string::npos);
  EXPECT_NE(m.find("smartcity_load_lag_versions{table=\"enriched_data\"} 2\n"), std::string::npos);
  EXPECT_NE(m.find("smartcity_load_lag_versions{table=\"vehicle_data\"} 0\n"), std::string::npos);
  EXPECT_NE(m.find("smartcity_load_last_timestamp_seconds{table=\"enriched_data\"} 1767596402\n"),
            std::string::npos);
}

// The loader's lag reports: per table and in total, in versions and seconds (by the clock's wall
// time), in /api/status and /metrics; unknown (null, no sample) before it reached the warehouse.
TEST_F(LiveStateTest, WarehouseLagShowsInTheStatusAndMetrics) {
  EXPECT_TRUE(nlohmann::json::parse(StatusJson(state_.Snapshot()))["warehouse"].is_null());
  const WallTime now = clock_.WallNow();
  state_.RecordLag({{"enriched_data", false, -1, -1, std::nullopt}}, "warehouse down");
  {
    const LiveSnapshot s = state_.Snapshot();
    const auto j = nlohmann::json::parse(StatusJson(s));
    EXPECT_TRUE(j["warehouse"]["lagVersions"].is_null());
    EXPECT_EQ(j["warehouse"]["retrying"], "warehouse down");
    EXPECT_TRUE(j["loadTables"][0]["lagVersions"].is_null());
    EXPECT_EQ(MetricsText(s, ProcessMetrics{}).find("smartcity_load_lag_versions{"),
              std::string::npos);
    EXPECT_NE(MetricsText(s, ProcessMetrics{}).find("\nsmartcity_warehouse_up 0\n"),
              std::string::npos);
  }
  state_.RecordLoad(Load("enriched_data", 0, 3, 100, 5, 1'767'596'400));
  state_.RecordLag({{"enriched_data", true, 6, 3, now - std::chrono::seconds(12)},
                    {"vehicle_data", true, 2, 2, std::nullopt}},
                   "");
  const LiveSnapshot s = state_.Snapshot();
  const auto j = nlohmann::json::parse(StatusJson(s));
  EXPECT_EQ(j["warehouse"]["lagVersions"], 3);
  EXPECT_DOUBLE_EQ(j["warehouse"]["lagSeconds"].get<double>(), 12.0);
  EXPECT_TRUE(j["warehouse"]["retrying"].is_null());
  EXPECT_TRUE(j["warehouse"]["error"].is_null());
  EXPECT_NE(MetricsText(s, ProcessMetrics{}).find("\nsmartcity_warehouse_up 1\n"),
            std::string::npos);
  ASSERT_EQ(j["loadTables"].size(), 2u);
  EXPECT_EQ(j["loadTables"][0]["lagVersions"], 3);
  EXPECT_EQ(j["loadTables"][0]["loadedVersion"], 3);
  EXPECT_EQ(j["loadTables"][0]["lakeVersion"], 6);
  EXPECT_EQ(j["loadTables"][0]["rows"], 100);
  EXPECT_DOUBLE_EQ(j["loadTables"][0]["lagSeconds"].get<double>(), 12.0);
  EXPECT_EQ(j["loadTables"][1]["lagVersions"], 0);
  EXPECT_EQ(j["loadTables"][1]["lagSeconds"], 0.0);
  const std::string m = MetricsText(s, ProcessMetrics{});
  EXPECT_NE(m.find("smartcity_load_lag_versions{table=\"enriched_data\"} 3\n"), std::string::npos)
      << m;
  EXPECT_NE(m.find("smartcity_load_lag_seconds{table=\"enriched_data\"} 12\n"), std::string::npos)
      << m;
  EXPECT_NE(m.find("smartcity_load_lag_seconds{table=\"vehicle_data\"} 0\n"), std::string::npos);
  state_.SetWarehouseError("bad password");
  EXPECT_EQ(nlohmann::json::parse(StatusJson(state_.Snapshot()))["warehouse"]["error"],
            "bad password");
}

TEST_F(LiveStateTest, QuarantinedRecordsAreCountedAndShown) {
  const std::string reason =
      std::string(stream::kImplausibleEventTimeReason) + " 2100-01-01T00:00:00.000000Z: ...";
  AddDeadLetter(&out_, "vehicle_data", reason);
  AddDeadLetter(&out_, "weather_data", "not JSON");
  state_.OnRows(0, out_, stream::OutputMarks{});
  const LiveSnapshot s = state_.Snapshot();
  EXPECT_EQ(s.quarantined[static_cast<size_t>(Topic::kVehicle)], 1u);
  EXPECT_EQ(s.quarantined[static_cast<size_t>(Topic::kWeather)], 0u);
  EXPECT_EQ(s.dead_letters[static_cast<size_t>(Topic::kVehicle)], 1u);
  EXPECT_EQ(s.last_quarantine_reason, reason);
  const nlohmann::json status = nlohmann::json::parse(StatusJson(s));
  EXPECT_EQ(status["quarantinedTotal"], 1);
  EXPECT_EQ(status["quarantined"]["vehicle_data"], 1);
  EXPECT_EQ(status["lastQuarantineReason"], reason);
  const std::string metrics = MetricsText(s, ProcessMetrics{});
  EXPECT_NE(metrics.find("smartcity_quarantined_events_total{topic=\"vehicle_data\"} 1"),
            std::string::npos)
      << metrics;
}

TEST(LiveStateLoadsTest, KeepsOnlyTheRecentLoadsButCountsAll) {
  FakeClock clock;
  LiveStateOptions o;
  o.max_loads = 3;
  LiveState state(o, &clock);
  for (int i = 0; i < 10; ++i) state.RecordLoad(Load("t", i, i, 1, i, 1'767'596'400 + i));
  const LiveSnapshot s = state.Snapshot();
  ASSERT_EQ(s.loads.size(), 3u);
  EXPECT_EQ(s.loads.front().first_version, 7);
  EXPECT_EQ(s.loads.back().first_version, 9);
  ASSERT_EQ(s.load_tables.size(), 1u);
  EXPECT_EQ(s.load_tables[0].rows, 10u);
  EXPECT_EQ(s.load_tables[0].loads, 10u);
  EXPECT_EQ(s.load_tables[0].loaded_version, 9);
}

TEST_F(LiveStateTest, JsonOfVehiclesHasTheFieldsTheDashboardReads) {
  AddVehicle(&out_, "V\"1", 10, 51.5, -0.1, 50);
  state_.OnRows(0, out_, stream::OutputMarks{});
  const auto j = nlohmann::json::parse(VehiclesJson(state_.Snapshot()));
  ASSERT_EQ(j["count"], 1);
  const auto& v = j["vehicles"][0];
  EXPECT_EQ(v["deviceId"], "V\"1");
  EXPECT_EQ(v["latitude"], 51.5);
  EXPECT_EQ(v["timestamp"], "2026-01-05T07:00:10.000000Z");
  EXPECT_TRUE(v["weather"].is_null());
  const auto route = nlohmann::json::parse(RouteJson());
  EXPECT_GT(route["waypoints"].size(), 5u);
  EXPECT_GT(route["cameras"].size(), 0u);
}

TEST_F(LiveStateTest, LivenessFailsOnAFailedPipelineOrALoopThatStopsTurning) {
  const Micros bound = std::chrono::seconds(60);
  EXPECT_TRUE(Liveness(state_.Health(), bound).ok);  // starting: the bound counts from start
  clock_.Advance(std::chrono::seconds(59));
  EXPECT_TRUE(Liveness(state_.Health(), bound).ok);
  clock_.Advance(std::chrono::seconds(1));
  ProbeResult p = Liveness(state_.Health(), bound);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.text, "stalled: the processing loop has not turned for 60 s\n");
  EXPECT_TRUE(Liveness(state_.Health(), Micros{0}).ok);  // 0: no bound

  pipeline::ProcessorCounters counters;
  state_.UpdateProgress({}, {}, counters);  // the loop turns
  EXPECT_EQ(Liveness(state_.Health(), bound).text, "ok\n");
  clock_.Advance(std::chrono::seconds(30));
  state_.UpdateProgress({}, {}, counters);
  clock_.Advance(std::chrono::seconds(59));
  EXPECT_TRUE(Liveness(state_.Health(), bound).ok);
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_FALSE(Liveness(state_.Health(), bound).ok);

  // Once the pipeline has ended its loop no longer turns: still alive (--keep-serving), unless it
  // failed.
  state_.SetState(PipelineState::kStopped);
  EXPECT_TRUE(Liveness(state_.Health(), bound).ok);
  state_.SetState(PipelineState::kFailed, "the lake is gone");
  p = Liveness(state_.Health(), bound);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.text, "failed: the lake is gone\n");
}

TEST_F(LiveStateTest, ReadyOnceEveryOwnedGroupHasACommittedEpoch) {
  auto ready = [&] { return Readiness(state_.Health()); };
  EXPECT_EQ(ready().text, "not ready: pipeline starting\n");
  pipeline::ProcessorCounters counters;
  state_.UpdateProgress({}, {}, counters);
  EXPECT_FALSE(ready().ok);
  EXPECT_EQ(ready().text, "not ready: no partition group assigned\n");

  // Group 1 is new (no checkpoint yet); group 4 resumed from a previous owner's epoch 9.
  std::vector<pipeline::Processor::GroupStatus> groups = {{1, 0, At(0), false},
                                                          {4, 9, At(0), false}};
  state_.UpdateProgress(groups, {}, counters);
  EXPECT_FALSE(ready().ok);
  EXPECT_EQ(ready().text, "not ready: partition group 1 has no committed epoch yet\n");
  groups[0].committed_epoch = 1;
  groups[1].replaying = true;
  state_.UpdateProgress(groups, {}, counters);
  EXPECT_EQ(ready().text, "not ready: partition group 4 is re-running its last epoch\n");
  groups[1].replaying = false;
  state_.UpdateProgress(groups, {}, counters);
  EXPECT_TRUE(ready().ok);
  EXPECT_EQ(ready().text, "ready: 2 partition group(s)\n");

  // A rebalance that takes every group away, then the end of the run.
  state_.UpdateProgress({}, {}, counters);
  EXPECT_FALSE(ready().ok);
  state_.UpdateProgress(groups, {}, counters);
  EXPECT_TRUE(ready().ok);
  state_.SetState(PipelineState::kFinished);
  EXPECT_EQ(ready().text, "not ready: pipeline finished\n");
  state_.SetState(PipelineState::kFailed, "boom");
  EXPECT_FALSE(ready().ok);
  state_.SetState(PipelineState::kServingLake);
  EXPECT_TRUE(ready().ok);
}

// ---- alerts (a fake clock drives every rule) ----------------------------------------------------

class LiveStateAlertTest : public ::testing::Test {
 protected:
  LiveStateAlertTest() {
    LiveStateOptions o;
    o.alerts.memory_limit_bytes = 100 << 20;
    o.resident_bytes = [this] { return rss_; };
    state_ = std::make_unique<LiveState>(std::move(o), &clock_);
  }
  // The command loop's report: group 0 at watermark `wm` (seconds), inputs `behind`.
  void Progress(int64_t wm, int64_t behind = 0) {
    PartitionLag lag;
    lag.tp = {Topic::kVehicle, PartitionId(0)};
    lag.records_behind = behind;
    const std::vector<pipeline::Processor::GroupStatus> groups = {{0, 1, At(wm), false}};
    const std::vector<PartitionLag> lags = {lag};
    state_->UpdateProgress(groups, lags, pipeline::ProcessorCounters{});
  }
  void Rows(const std::function<void(stream::StreamOutput*)>& add) {
    const auto first = Marks(out_);
    add(&out_);
    state_->OnRows(0, out_, first);
  }
  const AlertView* Find(std::string_view kind, std::string_view subject = "") {
    snap_ = state_->Snapshot();
    for (const AlertView& a : snap_.alerts) {
      if (a.kind == kind && a.subject == subject) return &a;
    }
    return nullptr;
  }
  bool Active(std::string_view kind, std::string_view subject = "") {
    const AlertView* a = Find(kind, subject);
    return a != nullptr && a->active();
  }

  FakeClock clock_;
  uint64_t rss_ = 0;
  std::unique_ptr<LiveState> state_;
  stream::StreamOutput out_;
  LiveSnapshot snap_;
};

TEST_F(LiveStateAlertTest, ANewIncidentRaisesAnAlertUntilResolvedOrOld) {
  Rows([](stream::StreamOutput* o) { AddEmergency(o, "I1", 10, "Active"); });
  const AlertView* a = Find("incident", "I1");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_EQ(a->severity, "warning");
  EXPECT_NE(a->message.find("Accident reported by V1"), std::string::npos) << a->message;
  EXPECT_EQ(a->since, clock_.WallNow());
  // A second report of the same incident raises nothing new.
  Rows([](stream::StreamOutput* o) { AddEmergency(o, "I1", 11, "Active"); });
  EXPECT_TRUE(Active("incident", "I1"));
  EXPECT_EQ(snap_.alerts.size(), 1u);
  // Resolved: cleared at once.
  clock_.Advance(std::chrono::seconds(5));
  Rows([](stream::StreamOutput* o) { AddEmergency(o, "I1", 20, "Resolved"); });
  Progress(5);
  a = Find("incident", "I1");
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->active());
  EXPECT_EQ(*a->cleared, clock_.WallNow());
  // Another one clears by itself after incident_alert_for (2 min); a first report that is already
  // Resolved raises nothing.
  Rows([](stream::StreamOutput* o) {
    AddEmergency(o, "I2", 30, "Active");
    AddEmergency(o, "I3", 30, "Resolved");
  });
  EXPECT_TRUE(Active("incident", "I2"));
  EXPECT_EQ(Find("incident", "I3"), nullptr);
  clock_.Advance(std::chrono::seconds(119));
  Progress(5);
  EXPECT_TRUE(Active("incident", "I2"));
  clock_.Advance(std::chrono::seconds(1));
  Progress(5);
  EXPECT_FALSE(Active("incident", "I2"));
}

TEST_F(LiveStateAlertTest, AStalledGroupRaisesAStallAlert) {
  Progress(100);
  Rows([](stream::StreamOutput* o) { AddVehicle(o, "V1", 100, 51.5, -0.1, 50); });
  Progress(100);
  clock_.Advance(std::chrono::seconds(29));
  Rows([](stream::StreamOutput* o) { AddVehicle(o, "V1", 101, 51.5, -0.1, 50); });
  Progress(100);
  EXPECT_FALSE(Active("stall", "group 0"));
  clock_.Advance(std::chrono::seconds(1));
  Progress(100);  // 30 s without a watermark move while events arrive
  const AlertView* a = Find("stall", "group 0");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_EQ(a->severity, "critical");
  EXPECT_NE(a->message.find("has not moved for 30 s while events arrive"), std::string::npos)
      << a->message;
  // The watermark moves: cleared.
  clock_.Advance(std::chrono::seconds(1));
  Progress(101);
  EXPECT_FALSE(Active("stall", "group 0"));
}

TEST_F(LiveStateAlertTest, AnIdleGroupWithNothingToReadIsNotStalled) {
  Progress(100);
  clock_.Advance(std::chrono::minutes(5));
  Progress(100);
  EXPECT_EQ(Find("stall", "group 0"), nullptr);
  // ... but one whose inputs are behind is.
  Progress(100, /*behind=*/7);
  EXPECT_TRUE(Active("stall", "group 0"));
  EXPECT_NE(Find("stall", "group 0")->message.find("its inputs are behind"), std::string::npos);
}

TEST_F(LiveStateAlertTest, ASteadyTopicGoingSilentRaisesAStallAlert) {
  Progress(0);
  // A minute of vehicle and gps events, two a second each.
  for (int sec = 0; sec < 60; ++sec) {
    Rows([sec](stream::StreamOutput* o) {
      AddVehicle(o, "V1", sec, 51.5, -0.1, 50);
      AddVehicle(o, "V2", sec, 51.5, -0.1, 50);
    });
    Progress(sec);
    clock_.Advance(std::chrono::seconds(1));
  }
  EXPECT_EQ(Find("stall", "topic vehicle_data"), nullptr);
  // Vehicles stop; weather goes on (no stall while every topic is silent: the end of a run).
  for (int sec = 60; sec < 91; ++sec) {
    Rows([sec](stream::StreamOutput* o) { AddWeather(o, "V1", sec, 10); });
    Progress(sec);
    clock_.Advance(std::chrono::seconds(1));
  }
  const AlertView* a = Find("stall", "topic vehicle_data");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_NE(a->message.find("no vehicle_data event for 3"), std::string::npos) << a->message;
  // The weather topic is sparse here (one event a second over less than a minute): no alert.
  EXPECT_EQ(Find("stall", "topic weather_data"), nullptr);
  Rows([](stream::StreamOutput* o) { AddVehicle(o, "V1", 92, 51.5, -0.1, 50); });
  Progress(92);
  EXPECT_FALSE(Active("stall", "topic vehicle_data"));
}

TEST_F(LiveStateAlertTest, DeadLetterAndLateEventSharesAboveTheThreshold) {
  Progress(0);
  clock_.Advance(std::chrono::seconds(1));
  // 100 events, 4 of them dead letters: 4% is under the 5% threshold.
  Rows([](stream::StreamOutput* o) {
    for (int i = 0; i < 96; ++i) AddVehicle(o, "V1", i, 51.5, -0.1, 50);
    for (int i = 0; i < 4; ++i) AddDeadLetter(o, "vehicle_data");
  });
  Progress(1);
  EXPECT_EQ(Find("dead_letters"), nullptr);
  clock_.Advance(std::chrono::seconds(1));
  // 10 more dead letters: 14 of 110.
  Rows([](stream::StreamOutput* o) {
    for (int i = 0; i < 10; ++i) AddDeadLetter(o, "vehicle_data");
    for (int i = 0; i < 9; ++i)
      o->late_events.column(stream::late_event_col::kTopic).AppendString("vehicle_data");
  });
  Progress(2);
  const AlertView* a = Find("dead_letters");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_NE(a->message.find("12.7% of the last minute's 110 events were dead letters"),
            std::string::npos)
      << a->message;
  EXPECT_TRUE(Active("late_events"));  // 9 of 110
  // A minute of clean events later, both clear.
  clock_.Advance(std::chrono::seconds(61));
  Rows([](stream::StreamOutput* o) {
    for (int i = 0; i < 100; ++i) AddVehicle(o, "V1", 200 + i, 51.5, -0.1, 50);
  });
  Progress(3);
  clock_.Advance(std::chrono::seconds(1));
  Progress(3);
  EXPECT_FALSE(Active("dead_letters"));
  EXPECT_FALSE(Active("late_events"));
}

TEST_F(LiveStateAlertTest, WarehouseRetryingAndStopped) {
  state_->RecordLag({}, "connection refused");
  const AlertView* a = Find("warehouse");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->severity, "warning");
  EXPECT_NE(a->message.find("retries): connection refused"), std::string::npos) << a->message;
  state_->RecordLag({}, "");
  EXPECT_FALSE(Active("warehouse"));
  state_->SetWarehouseError("disk full");
  a = Find("warehouse");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_EQ(a->severity, "critical");
  EXPECT_EQ(a->message, "the warehouse loader stopped: disk full");
}

TEST_F(LiveStateAlertTest, LakeCommitsMissingOrFailed) {
  Progress(0);
  Rows([](stream::StreamOutput* o) { AddVehicle(o, "V1", 0, 51.5, -0.1, 50); });
  clock_.Advance(std::chrono::seconds(89));
  Progress(1);
  EXPECT_FALSE(Active("lake"));
  clock_.Advance(std::chrono::seconds(1));
  Rows([](stream::StreamOutput* o) { AddVehicle(o, "V1", 1, 51.5, -0.1, 50); });
  Progress(2);
  EXPECT_TRUE(Active("lake"));
  EXPECT_NE(Find("lake")->message.find("no lake commit for 90 s"), std::string::npos);
  pipeline::EpochCommit c;
  c.groups = {0};
  c.at = clock_.WallNow();
  state_->OnCommit(c);
  Progress(3);
  EXPECT_FALSE(Active("lake"));
  state_->SetState(PipelineState::kFailed, "lake commit failed: permission denied");
  const AlertView* a = Find("lake");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_EQ(a->message, "the pipeline stopped: lake commit failed: permission denied");
}

TEST_F(LiveStateAlertTest, MemoryNearTheLimit) {
  rss_ = 80 << 20;
  Progress(0);
  EXPECT_EQ(Find("memory"), nullptr);
  rss_ = 95 << 20;
  clock_.Advance(std::chrono::seconds(1));
  Progress(0);
  const AlertView* a = Find("memory");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_EQ(a->message, "resident memory 95 MiB is 95% of the memory limit (100 MiB)");
  rss_ = 50 << 20;
  clock_.Advance(std::chrono::seconds(1));
  Progress(0);
  EXPECT_FALSE(Active("memory"));
}

TEST_F(LiveStateAlertTest, AlertsInTheJsonApiTheMetricsAndTheEventStream) {
  Rows([](stream::StreamOutput* o) { AddEmergency(o, "I1", 10, "Active"); });
  state_->SetWarehouseError("disk full");
  const LiveSnapshot s = state_->Snapshot();
  const auto j = nlohmann::json::parse(AlertsJson(s));
  EXPECT_EQ(j["active"], 2);
  ASSERT_EQ(j["alerts"].size(), 2u);
  for (const auto& a : j["alerts"]) {
    EXPECT_TRUE(a["active"].get<bool>());
    EXPECT_TRUE(a["clearedAt"].is_null());
    EXPECT_FALSE(a["message"].get<std::string>().empty());
    EXPECT_TRUE(a["since"].is_string());
  }
  const std::string m = MetricsText(s, ProcessMetrics{});
  for (const char* line :
       {"smartcity_alert_active{kind=\"incident\"} 1\n",
        "smartcity_alert_active{kind=\"warehouse\"} 1\n",
        "smartcity_alert_active{kind=\"stall\"} 0\n", "smartcity_alert_active{kind=\"memory\"} 0\n",
        "smartcity_alerts_active{kind=\"incident\"} 1\n"}) {
    EXPECT_NE(m.find(line), std::string::npos) << line << " not in:\n" << m;
  }
  EXPECT_EQ(nlohmann::json::parse(UpdateJson(s, 60))["alerts"]["active"], 2);
}

TEST_F(LiveStateAlertTest, RatesInTheApiHoldOnlyCompleteSeconds) {
  Rows([](stream::StreamOutput* o) { AddVehicle(o, "V1", 0, 51.5, -0.1, 50); });
  clock_.Advance(std::chrono::seconds(1));
  Rows([](stream::StreamOutput* o) {
    AddVehicle(o, "V1", 1, 51.5, -0.1, 50);
    AddVehicle(o, "V1", 2, 51.5, -0.1, 50);
  });
  const LiveSnapshot s = state_->Snapshot();
  const auto j = nlohmann::json::parse(RatesJson(s, 5));
  const auto v = j["topics"]["vehicle_data"];
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[4], 1);  // the last complete second; the current one (2 events) is left out
  EXPECT_EQ(j["endsAt"],
            std::chrono::duration_cast<std::chrono::seconds>(s.now.time_since_epoch()).count() - 1);
  EXPECT_EQ(nlohmann::json::parse(RatesJson(s, kRateSeconds))["topics"]["vehicle_data"].size(),
            static_cast<size_t>(kRateSeconds - 1));
}

TEST_F(LiveStateAlertTest, IncidentsCarryTheirRaisedTimeAndAge) {
  Rows([](stream::StreamOutput* o) {
    AddEmergency(o, "I1", 10, "Active");
    AddEmergency(o, "I1", 40, "Active");
    AddVehicle(o, "V1", 70, 51.5, -0.1, 50);
  });
  const auto j = nlohmann::json::parse(IncidentsJson(state_->Snapshot()));
  ASSERT_EQ(j["incidents"].size(), 1u);
  EXPECT_EQ(j["incidents"][0]["raisedAt"], FormatTimestamp(At(10)));
  EXPECT_DOUBLE_EQ(j["incidents"][0]["ageSeconds"].get<double>(), 60.0);
}

TEST_F(LiveStateAlertTest, ServeReplacesTheLoadsOrKeepsThemWhileTheWarehouseIsBusy) {
  LoadView l;
  l.table = "enriched_data";
  l.first_version = l.last_version = 3;
  l.rows = 120;
  TableLoadView t;
  t.table = "enriched_data";
  t.loaded_version = 3;
  t.lake_version = 4;
  t.rows = 120;
  t.loads = 1;
  state_->ReplaceLoads(std::deque<LoadView>{l}, {t}, /*present=*/true, "");
  LiveSnapshot s = state_->Snapshot();
  ASSERT_EQ(s.loads.size(), 1u);
  ASSERT_EQ(s.load_tables.size(), 1u);
  EXPECT_EQ(s.load_tables[0].lag_versions(), 1);
  EXPECT_TRUE(s.warehouse.present);
  // Busy: the loads read before stay, with the note.
  state_->ReplaceLoads(std::nullopt, {}, /*present=*/true, "busy: locked");
  s = state_->Snapshot();
  EXPECT_EQ(s.loads.size(), 1u);
  EXPECT_EQ(s.load_tables.size(), 1u);
  EXPECT_EQ(s.warehouse.retrying, "busy: locked");
  // serve raises no alert for it.
  EXPECT_TRUE(s.alerts.empty());
}

// ---- the live watermark, lag growth, lake retries, serve's progress, the route's context --------

TEST_F(LiveStateAlertTest, TheLiveWatermarkIsPublishedBetweenCommits) {
  Rows([](stream::StreamOutput* o) { AddVehicle(o, "V1", 200, 51.5, -0.1, 50); });
  // In force: 100 (the last epoch's); live: 170 (what the next epoch would take now).
  std::vector<pipeline::Processor::GroupStatus> groups = {{0, 1, At(100), false, At(170)}};
  state_->UpdateProgress(groups, {}, pipeline::ProcessorCounters{});
  LiveSnapshot s = state_->Snapshot();
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(*s.groups[0].watermark, At(100));
  EXPECT_EQ(*s.groups[0].live_watermark, At(170));
  auto j = nlohmann::json::parse(StatusJson(s));
  EXPECT_EQ(j["groups"][0]["watermarkLagSeconds"], 30.0) << "against the live watermark";
  EXPECT_EQ(j["groups"][0]["liveWatermark"], "2026-01-05T07:02:50.000000Z");
  std::string m = MetricsText(s, ProcessMetrics{});
  EXPECT_NE(m.find("smartcity_watermark_lag_seconds{group=\"0\"} 30\n"), std::string::npos) << m;
  EXPECT_NE(m.find("smartcity_live_watermark_timestamp_seconds{group=\"0\"} 1767596570\n"),
            std::string::npos)
      << m;
  // The next report (no commit in between) moves it.
  groups[0].live_watermark = At(180);
  state_->UpdateProgress(groups, {}, pipeline::ProcessorCounters{});
  s = state_->Snapshot();
  EXPECT_EQ(*s.groups[0].live_watermark, At(180));
  EXPECT_EQ(*s.groups[0].watermark_lag(), std::chrono::seconds(20));
  // Without a live watermark (EventTime::min()), the lag is against the one in force.
  groups[0].live_watermark = EventTime::min();
  LiveState fresh(LiveStateOptions{}, &clock_);
  fresh.OnRows(0, out_, stream::OutputMarks{});
  fresh.UpdateProgress(groups, {}, pipeline::ProcessorCounters{});
  s = fresh.Snapshot();
  EXPECT_FALSE(s.groups[0].live_watermark.has_value());
  EXPECT_EQ(*s.groups[0].watermark_lag(), std::chrono::seconds(100));
}

TEST(GrewSteadilyTest, NeedsAWholeWindowOfStrictGrowthAndTheMinimum) {
  const WallTime t0 = AsWallTime(At(0));
  auto series = [&](int seconds, const std::function<double(int)>& value) {
    std::deque<LagSample> d;
    for (int i = 0; i <= seconds; ++i) d.push_back({t0 + std::chrono::seconds(i), value(i)});
    return d;
  };
  const Micros window = std::chrono::seconds(60);
  const WallTime at60 = t0 + std::chrono::seconds(60);
  EXPECT_TRUE(GrewSteadily(series(60, [](int i) { return 120.0 + i; }), at60, window, 30));
  EXPECT_FALSE(GrewSteadily(series(60, [](int i) { return 120.0 + i; }), at60, window, 61))
      << "grew 60, less than the minimum";
  std::deque<LagSample> late = series(60, [](int i) { return 120.0 + i; });
  late.pop_front();  // from t0 + 1 s
  EXPECT_FALSE(GrewSteadily(late, at60, window, 30))
      << "the samples do not reach back a whole window";
  EXPECT_FALSE(GrewSteadily(series(60, [](int i) { return i < 40 ? 120.0 + 2 * i : 150.0; }), at60,
                            window, 30))
      << "flat over the last quarter";
  EXPECT_FALSE(GrewSteadily(series(60, [](int) { return 120.0; }), at60, window, 0));
  EXPECT_FALSE(GrewSteadily({}, at60, window, 0));
}

TEST_F(LiveStateAlertTest, AGrowingWatermarkLagRaisesALagAlert) {
  // Events advance 2 s a second, the live watermark 1 s a second: the lag grows 1 s a second.
  auto second = [&](int k, int64_t watermark) {
    Rows([k](stream::StreamOutput* o) { AddVehicle(o, "V1", 200 + 2 * k, 51.5, -0.1, 50); });
    const std::vector<pipeline::Processor::GroupStatus> groups = {
        {0, 1, At(watermark), false, At(watermark)}};
    state_->UpdateProgress(groups, {}, pipeline::ProcessorCounters{});
  };
  int k = 0;
  for (; k < 60; ++k) {
    second(k, 80 + k);
    clock_.Advance(std::chrono::seconds(1));
  }
  EXPECT_FALSE(Active("lag", "group 0")) << "not a whole window yet";
  second(k++, 80 + 60);
  const AlertView* a = Find("lag", "group 0");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_EQ(a->severity, "warning");
  EXPECT_NE(a->message.find("the watermark lag grew from"), std::string::npos) << a->message;
  EXPECT_FALSE(Active("stall", "group 0")) << "the watermark moves";
  // The watermark catches up with the events (the lag stops growing): cleared.
  for (int i = 0; i < 20; ++i, ++k) {
    clock_.Advance(std::chrono::seconds(1));
    second(k, 200 + 2 * k - 60);
  }
  EXPECT_FALSE(Active("lag", "group 0"));
  EXPECT_NE(MetricsText(state_->Snapshot(), ProcessMetrics{})
                .find("smartcity_alert_active{kind=\"lag\"} 0\n"),
            std::string::npos);
}

TEST_F(LiveStateAlertTest, InputsFallingFurtherBehindRaiseALagAlert) {
  for (int k = 0; k <= 60; ++k) {
    Progress(100 + k, /*behind=*/1000 + 500 * k);
    clock_.Advance(std::chrono::seconds(1));
  }
  Progress(161, 1000 + 500 * 61);
  const AlertView* a = Find("lag", "inputs");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_NE(a->message.find("the processor does not keep up"), std::string::npos) << a->message;
  EXPECT_NE(MetricsText(state_->Snapshot(), ProcessMetrics{})
                .find("smartcity_alert_active{kind=\"lag\"} 1\n"),
            std::string::npos);
  // It shrinks again: cleared.
  clock_.Advance(std::chrono::seconds(1));
  Progress(162, 10);
  EXPECT_FALSE(Active("lag", "inputs"));
}

TEST_F(LiveStateAlertTest, RetriedLakeWritesRaiseALakeWarningForAMinute) {
  const std::vector<pipeline::Processor::GroupStatus> groups = {{0, 1, At(10), false}};
  pipeline::ProcessorCounters c;
  state_->UpdateProgress(groups, {}, c);
  clock_.Advance(std::chrono::seconds(1));
  c.retries = 3;
  state_->UpdateProgress(groups, {}, c);
  const AlertView* a = Find("lake");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->active());
  EXPECT_EQ(a->severity, "warning");
  EXPECT_NE(a->message.find("3 lake or checkpoint writes failed"), std::string::npos) << a->message;
  for (int i = 0; i < 61; ++i) {
    clock_.Advance(std::chrono::seconds(1));
    state_->UpdateProgress(groups, {}, c);
  }
  EXPECT_FALSE(Active("lake")) << "no retry in the last minute";
}

TEST_F(LiveStateAlertTest, ServeShowsTheLakesWatermarksAndNoProducedCount) {
  std::array<uint64_t, stream::kOutputTableCount> rows{};
  rows[static_cast<size_t>(OutputTable::kVehicle)] = 5;
  state_->ReplaceFromLake({}, {}, {}, {}, rows);
  GroupView g;
  g.group = 2;
  g.committed_epoch = 9;
  g.watermark = At(50);
  std::array<std::optional<EventTime>, stream::kOutputTableCount> newest{};
  newest[static_cast<size_t>(OutputTable::kVehicle)] = At(170);
  state_->ReplaceLakeProgress({g}, newest);
  const auto j = nlohmann::json::parse(StatusJson(state_->Snapshot()));
  EXPECT_EQ(j["rowsProducedKnown"], false);
  EXPECT_TRUE(j["rowsProduced"]["vehicle_data"].is_null()) << "not applicable, not 0";
  EXPECT_EQ(j["rowsCommitted"]["vehicle_data"], 5);
  EXPECT_EQ(j["newestEventTime"]["vehicle_data"], "2026-01-05T07:02:50.000000Z");
  EXPECT_TRUE(j["newestEventTime"]["gps_data"].is_null());
  ASSERT_EQ(j["groups"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["committedEpoch"], 9);
  EXPECT_EQ(j["groups"][0]["watermark"], "2026-01-05T07:00:50.000000Z");
}

TEST(RouteContextTest, PlacesAndRoadsComeFromTheRoutesWaypoints) {
  const auto& route = simulation::Route::LondonToBirmingham();
  const RouteContext c = RouteContextOf(route);
  auto find = [&](std::string_view name) -> const RoutePlace* {
    for (const RoutePlace& p : c.places) {
      if (p.name == name) return &p;
    }
    return nullptr;
  };
  ASSERT_NE(find("London"), nullptr);
  EXPECT_EQ(find("London")->kind, "city");
  EXPECT_EQ(find("London")->waypoint, 0u);
  ASSERT_NE(find("Birmingham"), nullptr);
  EXPECT_EQ(find("Birmingham")->waypoint, route.waypoints().size() - 1);
  ASSERT_NE(find("High Wycombe"), nullptr);
  EXPECT_EQ(find("High Wycombe")->kind, "town");
  ASSERT_NE(find("M40 J4"), nullptr);
  EXPECT_EQ(find("M40 J4")->kind, "junction");
  EXPECT_EQ(find("M42 J3a")->kind, "junction");
  // "Shirley" is a waypoint of its own: placed once, as a district.
  int shirley = 0;
  for (const RoutePlace& p : c.places) shirley += p.name == "Shirley" ? 1 : 0;
  EXPECT_EQ(shirley, 1);
  EXPECT_EQ(find("Shirley")->kind, "district");
  // The roads cover the route end to end, in order.
  ASSERT_FALSE(c.roads.empty());
  EXPECT_EQ(c.roads.front().from, 0u);
  EXPECT_EQ(c.roads.back().to, route.waypoints().size() - 1);
  for (size_t i = 1; i < c.roads.size(); ++i) EXPECT_EQ(c.roads[i].from, c.roads[i - 1].to);
  bool m40 = false;
  for (const RouteRoad& r : c.roads) m40 = m40 || (r.name == "M40" && r.road_class == "motorway");
  EXPECT_TRUE(m40);
  const auto j = nlohmann::json::parse(RouteJson());
  EXPECT_EQ(j["places"].size(), c.places.size());
  EXPECT_EQ(j["roads"].size(), c.roads.size());
}

}  // namespace
}  // namespace smartcity::web
