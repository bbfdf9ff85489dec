// EventTimeGuard on its own (future and past outliers, legitimate jumps, disagreement, the end of a
// run, checkpoints), then through StreamCore: a poisoned record in the middle of a stream leaves
// every other row as in a clean run, lands in `_dead_letters` with its reason, and a restore from a
// checkpoint taken while it is held decides the same way.
#include "stream/event_time_guard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>

#include "stream/core.h"
#include "stream/stream_testutil.h"

namespace smartcity::stream {
namespace {

using testing::At;

constexpr auto kV = JoinInput::kVehicle;
constexpr auto kE = JoinInput::kEmergency;

// 2100-01-01T00:00:00Z and 1970-01-02T00:00:00Z.
const EventTime kYear2100 = EventTime(Micros(4'102'444'800'000'000LL));
const EventTime kYear1970 = EventTime(Micros(86'400'000'000LL));

int64_t Us(EventTime t) {
  return t.time_since_epoch().count();
}

// Feeds records to a guard as StreamCore does and keeps what it admits and quarantines, by offset.
struct GuardHarness {
  explicit GuardHarness(EventTimeGuardOptions o = {}) : guard(o) {}
  void Feed(JoinInput input, EventTime t) {
    const int64_t offset = next_offset++;
    if (guard.Admit(input, Us(t))) {
      admitted.push_back(offset);
      return;
    }
    std::vector<GuardedRecord> released;
    std::vector<QuarantinedRecord> quarantined;
    guard.Decide(input, GuardedRecord{t, {PartitionId(0), offset}, t, "#" + std::to_string(offset)},
                 &released, &quarantined);
    for (const GuardedRecord& r : released) admitted.push_back(r.position.offset);
    for (const QuarantinedRecord& q : quarantined) {
      rejected.push_back(q.record.position.offset);
      reasons.push_back(q.reason);
    }
  }
  void Flush() {
    std::vector<QuarantinedRecord> quarantined;
    for (size_t i = 0; i < kJoinInputCount; ++i)
      guard.Flush(static_cast<JoinInput>(i), &quarantined);
    for (const QuarantinedRecord& q : quarantined) {
      rejected.push_back(q.record.position.offset);
      reasons.push_back(q.reason);
    }
  }
  EventTimeGuard guard;
  int64_t next_offset = 0;
  std::vector<int64_t> admitted, rejected;
  std::vector<std::string> reasons;
};

TEST(EventTimeGuardTest, AFarFutureRecordIsQuarantinedWhenTheNextOneGoesOn) {
  GuardHarness h;
  h.Feed(kV, At(0));
  h.Feed(kV, At(1));
  h.Feed(kV, kYear2100);  // offset 2: held
  EXPECT_EQ(h.guard.held(kV), 1u);
  EXPECT_EQ(h.admitted, (std::vector<int64_t>{0, 1}));
  h.Feed(kV, At(2));
  h.Feed(kV, At(3));
  EXPECT_EQ(h.admitted, (std::vector<int64_t>{0, 1, 3, 4}));
  ASSERT_EQ(h.rejected, (std::vector<int64_t>{2}));
  EXPECT_EQ(h.reasons[0].rfind(kImplausibleEventTimeReason, 0), 0u) << h.reasons[0];
  EXPECT_NE(h.reasons[0].find("2100-01-01T00:00:00"), std::string::npos) << h.reasons[0];
  EXPECT_NE(h.reasons[0].find("ahead of"), std::string::npos) << h.reasons[0];
  EXPECT_NE(h.reasons[0].find("--event-time-max-ahead 24h"), std::string::npos) << h.reasons[0];
  EXPECT_EQ(h.guard.counters().quarantined_ahead[0], 1u);
  EXPECT_EQ(h.guard.counters().quarantined(), 1u);
  EXPECT_EQ(h.guard.held(), 0u);
}

TEST(EventTimeGuardTest, AFarPastRecordIsQuarantinedToo) {
  GuardHarness h;
  h.Feed(kV, At(0));
  h.Feed(kV, kYear1970);
  h.Feed(kV, At(1));
  EXPECT_EQ(h.admitted, (std::vector<int64_t>{0, 2}));
  ASSERT_EQ(h.rejected, (std::vector<int64_t>{1}));
  EXPECT_NE(h.reasons[0].find("behind"), std::string::npos) << h.reasons[0];
  EXPECT_NE(h.reasons[0].find("--event-time-max-behind 168h"), std::string::npos) << h.reasons[0];
  EXPECT_EQ(h.guard.counters().quarantined_behind[0], 1u);
  // Ordinary lateness and disorder (minutes, hours) are not the guard's business.
  h.Feed(kV, At(-3 * 3600));
  h.Feed(kV, At(20 * 3600));
  EXPECT_EQ(h.rejected.size(), 1u);
  EXPECT_EQ(h.guard.held(), 0u);
}

TEST(EventTimeGuardTest, ALegitimateJumpIsFollowedWithNothingLost) {
  for (const double jump : {3.0 * 86400, -30.0 * 86400}) {  // a later day, an earlier month
    GuardHarness h;
    h.Feed(kV, At(0));
    for (int i = 0; i < 20; ++i) h.Feed(kV, At(jump + i));
    EXPECT_TRUE(h.rejected.empty()) << jump;
    ASSERT_EQ(h.admitted.size(), 21u) << jump;
    EXPECT_TRUE(std::is_sorted(h.admitted.begin(), h.admitted.end()));  // arrival order kept
    EXPECT_EQ(h.guard.counters().jumps_followed[0], 1u);
    EXPECT_EQ(h.guard.held(), 0u);
  }
}

TEST(EventTimeGuardTest, DisagreeingSuspectsLoseToTheMajority) {
  GuardHarness h(EventTimeGuardOptions{std::chrono::hours(24), std::chrono::hours(24), 4});
  h.Feed(kV, At(0));
  h.Feed(kV, kYear2100);           // 1: held
  h.Feed(kV, At(10 * 86400));      // 2: contradicts the single held one: 1 out, 2 held
  h.Feed(kV, At(10 * 86400 + 1));  // 3: agrees
  h.Feed(kV, kYear1970);           // 4: contradicts two that agree: out
  h.Feed(kV, At(10 * 86400 + 2));  // 5
  h.Feed(kV, At(10 * 86400 + 3));  // 6: the fourth in a row: followed
  EXPECT_EQ(h.rejected, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(h.admitted, (std::vector<int64_t>{0, 2, 3, 5, 6}));
}

TEST(EventTimeGuardTest, TheEndOfTheInputQuarantinesWhatIsHeld) {
  GuardHarness h;
  h.Feed(kE, At(0));
  h.Feed(kE, kYear2100);
  h.Flush();
  EXPECT_EQ(h.rejected, (std::vector<int64_t>{1}));
  EXPECT_NE(h.reasons[0].find("the input ended"), std::string::npos) << h.reasons[0];
  EXPECT_EQ(h.guard.counters().quarantined_ahead[static_cast<size_t>(kE)], 1u);
}

TEST(EventTimeGuardTest, AnInputWithoutRecordsIsJudgedByItsGroup) {
  GuardHarness h;
  h.Feed(kV, At(0));
  h.Feed(kE, kYear2100);  // no epoch start yet: nothing to judge by
  EXPECT_EQ(h.admitted, (std::vector<int64_t>{0, 1}));
  GuardHarness g;
  g.Feed(kV, At(0));
  g.guard.StartEpoch();
  g.Feed(kE, kYear2100);
  g.Feed(kE, At(5));
  EXPECT_EQ(g.rejected, (std::vector<int64_t>{1}));
}

TEST(EventTimeGuardTest, OffWhenConfirmIsOneOrNoLimits) {
  GuardHarness h(EventTimeGuardOptions{std::chrono::hours(1), std::chrono::hours(1), 1});
  h.Feed(kV, At(0));
  h.Feed(kV, kYear2100);
  EXPECT_TRUE(h.rejected.empty());
  EXPECT_EQ(h.admitted.size(), 2u);
  GuardHarness g(EventTimeGuardOptions{Micros(0), std::chrono::hours(1), 8});
  g.Feed(kV, At(0));
  g.Feed(kV, kYear2100);  // no limit ahead
  g.Feed(kV, At(1));      // 2099 years behind the position: held
  EXPECT_EQ(g.admitted, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(g.guard.held(kV), 1u);
}

TEST(EventTimeGuardTest, CheckpointRoundTripDecidesTheSame) {
  const std::vector<std::pair<JoinInput, EventTime>> input = {
      {kV, At(0)}, {kE, At(0)}, {kV, kYear2100}, {kV, At(86400 * 2)}, {kE, kYear1970},
      {kV, At(1)}, {kE, At(1)}, {kV, At(2)},     {kV, At(86400 * 2)}, {kV, At(3)}};
  GuardHarness straight;
  for (const auto& [in, t] : input) straight.Feed(in, t);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    GuardHarness first;
    for (size_t i = 0; i < cut; ++i) first.Feed(input[i].first, input[i].second);
    std::string blob;
    first.guard.SerializeState(&blob);
    GuardHarness second;
    ASSERT_TRUE(second.guard.RestoreState(blob).ok()) << cut;
    EXPECT_EQ(second.guard.held(), first.guard.held());
    second.next_offset = first.next_offset;
    second.admitted = first.admitted;
    second.rejected = first.rejected;
    for (size_t i = cut; i < input.size(); ++i) second.Feed(input[i].first, input[i].second);
    EXPECT_EQ(second.admitted, straight.admitted) << cut;
    EXPECT_EQ(second.rejected, straight.rejected) << cut;
    EXPECT_EQ(second.guard.counters().quarantined(), straight.guard.counters().quarantined());
  }
  EXPECT_EQ(straight.rejected, (std::vector<int64_t>{2, 3, 4, 8}));
  EventTimeGuard bad;
  EXPECT_FALSE(bad.RestoreState("nope").ok());
}

// ------------------------------------------------------------------------- through StreamCore

std::string VehicleJson(std::string_view device, EventTime t) {
  return R"({"id":"v-)" + FormatTimestamp(t) + R"(","deviceId":")" + std::string(device) +
         R"(","timestamp":")" + FormatTimestamp(t) +
         R"J(","location":"(51.5, -0.12)","speed":50.0,"direction":"North","make":"BMW",)J"
         R"("model":"C500","year":2024,"fuelType":"Hybrid"})";
}
std::string WeatherJson(std::string_view device, EventTime t) {
  return R"({"id":"w-)" + FormatTimestamp(t) + R"(","deviceId":")" + std::string(device) +
         R"J(","location":"(51.5, -0.12)","timestamp":")J" + FormatTimestamp(t) +
         R"(","temperature":10.5,"weatherCondition":"Rain","precipitation":1.0,"windSpeed":5.0,)"
         R"("humidity":80,"airQualityIndex":42.6})";
}
std::string EmergencyJson(std::string_view device, EventTime t, std::string_view type) {
  return R"({"id":"e-)" + FormatTimestamp(t) + R"(","deviceId":")" + std::string(device) +
         R"(","incidentId":"INC-)" + FormatTimestamp(t) + R"(","type":")" + std::string(type) +
         R"(","timestamp":")" + FormatTimestamp(t) +
         R"(","location":[51.5,-0.12],"status":"Active","description":"d"})";
}

struct Rec {
  Topic topic;
  int64_t offset;
  std::string payload;
};

// Two devices, one record per input per second, an emergency every 10 s (type "None" every 5 s,
// in between), offsets per topic; `poison` adds records at the given place of the sequence.
std::vector<Rec> Stream(int seconds, const std::map<size_t, Rec>& poison = {}) {
  std::vector<Rec> out;
  std::array<int64_t, kTopicCount> next{};
  auto add = [&](Topic t, std::string payload) {
    out.push_back({t, next[static_cast<size_t>(t)]++, std::move(payload)});
    const auto it = poison.find(out.size());
    if (it != poison.end()) out.push_back(it->second);
  };
  for (int s = 0; s < seconds; ++s) {
    for (const char* d : {"dev-a", "dev-b"}) {
      add(Topic::kVehicle, VehicleJson(d, At(s)));
      add(Topic::kWeather, WeatherJson(d, At(s)));
      if (s % 10 == 0) add(Topic::kEmergency, EmergencyJson(d, At(s), "Fire"));
      if (s % 10 == 5) add(Topic::kEmergency, EmergencyJson(d, At(s), "None"));
    }
  }
  return out;
}

struct CoreRun {
  StreamOutput out;
  uint64_t quarantined = 0;
};

// Batches of `batch` records; a new epoch (AdvanceWatermark) after each; `restore_at`: serialize,
// drop the core and restore a new one before that batch.
CoreRun RunCore(const std::vector<Rec>& records, size_t batch, size_t restore_at = SIZE_MAX) {
  FakeClock clock;
  StreamCoreOptions options;
  auto core = std::make_unique<StreamCore>(options, &clock);
  CoreRun run;
  StreamOutput out;
  const WallTime received = WallTime(Micros(1'800'000'000'000'000LL));
  size_t n = 0;
  for (size_t i = 0; i < records.size(); i += batch, ++n) {
    if (n == restore_at) {
      std::string blob;
      EXPECT_TRUE(core->SerializeState(&blob).ok());
      core = std::make_unique<StreamCore>(options, &clock);
      EXPECT_TRUE(core->RestoreState(blob).ok());
    }
    out.Clear();
    core->AdvanceWatermark(&out);
    std::vector<InputRecord> in;
    for (size_t k = i; k < std::min(records.size(), i + batch); ++k) {
      in.push_back({records[k].topic, {PartitionId(0), records[k].offset}, records[k].payload});
    }
    core->Process(in, received, &out);
    for (Topic t : kAllTopics) run.out.Raw(t).AppendRows(out.Raw(t), 0, out.Raw(t).num_rows());
    run.out.enriched.AppendRows(out.enriched, 0, out.enriched.num_rows());
    run.out.dead_letters.AppendRows(out.dead_letters, 0, out.dead_letters.num_rows());
    run.out.late_events.AppendRows(out.late_events, 0, out.late_events.num_rows());
    clock.Advance(std::chrono::seconds(1));
  }
  out.Clear();
  core->Flush(&out);
  run.out.enriched.AppendRows(out.enriched, 0, out.enriched.num_rows());
  run.out.dead_letters.AppendRows(out.dead_letters, 0, out.dead_letters.num_rows());
  run.quarantined = core->guard().counters().quarantined();
  return run;
}

std::multiset<testing::RowKey> KeySet(const RecordBatch& enriched) {
  const auto keys = testing::Keys(enriched);
  return {keys.begin(), keys.end()};
}

TEST(EventTimeGuardCoreTest, PoisonedRecordsAreAccountedForAndChangeNothingElse) {
  const CoreRun clean = RunCore(Stream(60), 7);
  ASSERT_GT(clean.out.enriched.num_rows(), 100u);
  EXPECT_EQ(clean.out.dead_letters.num_rows(), 0u);
  EXPECT_EQ(clean.out.late_events.num_rows(), 0u);
  // "None" emergencies are stored, never joined as incidents.
  size_t none = 0;
  const RecordBatch& em = clean.out.Raw(Topic::kEmergency);
  for (size_t r = 0; r < em.num_rows(); ++r)
    none += em.column(emergency_col::kType).GetString(r) == "None";
  EXPECT_EQ(none, 12u);
  for (size_t r = 0; r < clean.out.enriched.num_rows(); ++r) {
    const Column& type = clean.out.enriched.column(enriched_col::kEmergencyType);
    EXPECT_TRUE(type.IsNull(r) || type.GetString(r) == "Fire");
  }
  // The float AQI was rounded.
  EXPECT_EQ(clean.out.enriched.column(enriched_col::kAirQualityIndex).GetInt32(0), 43);

  const std::map<size_t, Rec> poison = {
      {101, {Topic::kVehicle, 900, VehicleJson("dev-a", kYear2100)}},
      {151, {Topic::kWeather, 901, WeatherJson("dev-b", kYear1970)}},
      {201, {Topic::kEmergency, 902, EmergencyJson("dev-a", kYear2100, "Fire")}}};
  const std::vector<Rec> poisoned = Stream(60, poison);
  for (size_t restore_at : {SIZE_MAX, size_t{14}, size_t{15}, size_t{22}, size_t{29}, size_t{30}}) {
    SCOPED_TRACE(restore_at);
    const CoreRun run = RunCore(poisoned, 7, restore_at);
    EXPECT_EQ(KeySet(run.out.enriched), KeySet(clean.out.enriched));
    EXPECT_EQ(run.out.late_events.num_rows(), 0u);
    for (Topic t : kAllTopics)
      EXPECT_EQ(run.out.Raw(t).num_rows(), clean.out.Raw(t).num_rows()) << static_cast<int>(t);
    ASSERT_EQ(run.out.dead_letters.num_rows(), 3u);
    EXPECT_EQ(run.quarantined, 3u);
    std::set<int64_t> offsets;
    for (size_t r = 0; r < 3; ++r) {
      offsets.insert(run.out.dead_letters.column(dead_letter_col::kOffset).GetInt64(r));
      EXPECT_EQ(run.out.dead_letters.column(dead_letter_col::kReason)
                    .GetString(r)
                    .rfind(kImplausibleEventTimeReason, 0),
                0u);
    }
    EXPECT_EQ(offsets, (std::set<int64_t>{900, 901, 902}));
  }
}

TEST(EventTimeGuardCoreTest, AReplayOfALaterDayIsFollowed) {
  std::vector<Rec> records = Stream(30);
  std::vector<Rec> later = Stream(30);
  // The same city a week later, appended to the same partitions.
  for (Rec& r : later) {
    for (const char* field : {"\"timestamp\":\"2026-01-05", "\"id\":\"v-2026-01-05",
                              "\"id\":\"w-2026-01-05", "\"id\":\"e-2026-01-05", "INC-2026-01-05"}) {
      const size_t pos = r.payload.find(field);
      if (pos != std::string::npos)
        r.payload.replace(pos + std::string_view(field).size() - 2, 2, "12");
    }
    r.offset += 1000;
  }
  records.insert(records.end(), later.begin(), later.end());
  const CoreRun run = RunCore(records, 7);
  EXPECT_EQ(run.out.dead_letters.num_rows(), 0u);
  EXPECT_EQ(run.quarantined, 0u);
  EXPECT_EQ(run.out.Raw(Topic::kVehicle).num_rows(), 120u);
  EXPECT_EQ(run.out.enriched.num_rows(), 120u);
}

TEST(EventTimeGuardCoreTest, RestoresACheckpointOfTheJoinAlone) {
  FakeClock clock;
  EventTimeJoin join(JoinOptions{}, &clock);
  std::string blob;
  ASSERT_TRUE(join.SerializeState(&blob).ok());
  StreamCore core(StreamCoreOptions{}, &clock);
  EXPECT_TRUE(core.RestoreState(blob).ok());
  std::string framed;
  ASSERT_TRUE(core.SerializeState(&framed).ok());
  StreamCore again(StreamCoreOptions{}, &clock);
  EXPECT_TRUE(again.RestoreState(framed).ok());
  EXPECT_FALSE(again.RestoreState(framed.substr(0, framed.size() - 1)).ok());
}

}  // namespace
}  // namespace smartcity::stream
