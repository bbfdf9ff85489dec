#include "stream/join.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "stream/stream_testutil.h"

namespace smartcity::stream {
namespace {

using testing::At;
using testing::JoinHarness;
using testing::RowKey;

JoinOptions Window(double seconds) {
  JoinOptions o;
  o.window = Micros(static_cast<int64_t>(seconds * 1e6));
  return o;
}

TEST(JoinTest, MatchedRowIsEmittedAsSoonAsAllThreeArrive) {
  JoinHarness h;
  const int64_t v = h.Vehicle("car", At(10));
  EXPECT_TRUE(h.RowsOf("car").empty());
  const int64_t w = h.Weather("car", At(10));
  EXPECT_TRUE(h.RowsOf("car").empty()) << "a (v, w) pair waits for a possible emergency";
  const int64_t e = h.Emergency("car", At(10));
  EXPECT_EQ(h.RowsOf("car"),
            (std::vector<RowKey>{{"car", At(10).time_since_epoch().count(), v, w, e}}));
  // Finalising the reading later adds no NULL row: an emergency matched it.
  h.SetWatermark(At(100));
  EXPECT_EQ(h.RowsOf("car").size(), 1u);
  EXPECT_EQ(h.join.counters().rows_matched, 2u);  // car's and the pacer's
  EXPECT_EQ(h.join.counters().rows_unmatched, 0u);
}

TEST(JoinTest, EmergencyFirstThenWeatherThenVehicle) {
  JoinHarness h;
  h.Emergency("car", At(5));
  h.Weather("car", At(5));
  EXPECT_TRUE(h.RowsOf("car").empty());
  h.Vehicle("car", At(5));
  ASSERT_EQ(h.RowsOf("car").size(), 1u);
  EXPECT_EQ(std::get<4>(h.RowsOf("car")[0]), 0);
}

TEST(JoinTest, VehicleAndEmergencyThenWeather) {
  JoinHarness h;
  h.Vehicle("car", At(5));
  h.Emergency("car", At(5));
  EXPECT_TRUE(h.RowsOf("car").empty()) << "inner join: no weather, no row";
  h.Weather("car", At(5));
  EXPECT_EQ(h.RowsOf("car").size(), 1u);
}

TEST(JoinTest, NoWeatherMeansNoRowEvenAfterFlush) {
  JoinHarness h;
  h.Vehicle("car", At(5));
  h.Emergency("car", At(5));
  h.SetWatermark(At(100));
  h.join.Flush(&h.out);
  EXPECT_TRUE(h.RowsOf("car").empty());
}

TEST(JoinTest, LeftJoinNullRowExactlyWhenWatermarkPassesVehicleTimePlusWindow) {
  for (double j : {0.0, 5.0}) {
    SCOPED_TRACE(j);
    JoinHarness h(Window(j));
    h.Vehicle("car", At(10));
    h.Weather("car", At(10));
    const EventTime edge = At(10) + Micros(static_cast<int64_t>(j * 1e6));
    EXPECT_EQ(h.SetWatermark(edge - Micros(1)), edge - Micros(1));
    EXPECT_TRUE(h.RowsOf("car").empty());
    EXPECT_EQ(h.SetWatermark(edge), edge);
    EXPECT_TRUE(h.RowsOf("car").empty())
        << "watermark == v.ts + J: an emergency at v.ts + J could still come";
    // ... and indeed one can: it is not late.
    h.SetWatermark(edge + Micros(1));
    ASSERT_EQ(h.RowsOf("car").size(), 1u);
    EXPECT_EQ(std::get<4>(h.RowsOf("car")[0]), -1) << "NULL emergency";
    EXPECT_EQ(h.join.counters().rows_unmatched, 1u);
    // Emitted once only.
    h.SetWatermark(At(1000));
    h.join.Flush(&h.out);
    EXPECT_EQ(h.RowsOf("car").size(), 1u);
  }
}

TEST(JoinTest, EmergencyAtTheWatermarkStillJoins) {
  JoinHarness h(Window(5));
  h.Vehicle("car", At(10));
  h.Weather("car", At(10));
  h.Emergency("other", At(0));  // the emergency input now has data
  h.SetWatermark(At(15));
  h.Emergency("car", At(15));  // exactly v.ts + J, exactly the watermark: on time
  EXPECT_EQ(h.Late(), 0u);
  ASSERT_EQ(h.RowsOf("car").size(), 1u);
  EXPECT_EQ(std::get<4>(h.RowsOf("car")[0]), 2);  // offsets: other 0, pacer 1, car 2
  h.SetWatermark(At(100));
  EXPECT_EQ(h.RowsOf("car").size(), 1u) << "no extra NULL row";
}

TEST(JoinTest, ExactTimestampWindowEdges) {
  JoinHarness h(Window(0));
  h.Vehicle("car", At(10));
  h.Weather("car", At(10) + Micros(1));
  h.Weather("car", At(10) - Micros(1));
  h.Emergency("car", At(10) + Micros(1));
  h.SetWatermark(At(20));
  EXPECT_TRUE(h.RowsOf("car").empty());
  JoinHarness g(Window(0));
  g.Vehicle("car", At(10));
  g.Weather("car", At(10));
  g.Emergency("car", At(10) - Micros(1));
  g.SetWatermark(At(20));
  ASSERT_EQ(g.RowsOf("car").size(), 1u);
  EXPECT_EQ(std::get<4>(g.RowsOf("car")[0]), -1);
}

TEST(JoinTest, FiveSecondWindowEdges) {
  JoinHarness h(Window(5));
  h.Vehicle("car", At(100));
  const int64_t in_lo = h.Weather("car", At(95));
  const int64_t in_hi = h.Weather("car", At(105));
  h.Weather("car", At(95) - Micros(1));
  h.Weather("car", At(105) + Micros(1));
  const int64_t e_lo = h.Emergency("car", At(95));
  h.Emergency("car", At(105) + Micros(1));
  EXPECT_EQ(h.Late(), 0u);
  std::vector<RowKey> rows = h.RowsOf("car");
  std::sort(rows.begin(), rows.end());
  const int64_t ts = At(100).time_since_epoch().count();
  EXPECT_EQ(rows, (std::vector<RowKey>{{"car", ts, 0, in_lo, e_lo}, {"car", ts, 0, in_hi, e_lo}}));
  h.SetWatermark(At(1000));
  h.join.Flush(&h.out);
  EXPECT_EQ(h.RowsOf("car").size(), 2u);
}

TEST(JoinTest, LateRecordIsReportedAndNotJoined) {
  JoinHarness h;
  h.Weather("car", At(50));
  h.SetWatermark(At(60));
  h.Vehicle("car", At(60) - Micros(1));  // 1 us behind the watermark
  ASSERT_EQ(h.Late(), 1u);
  EXPECT_EQ(h.late[0].input, JoinInput::kVehicle);
  EXPECT_EQ(h.late[0].event_time, At(60) - Micros(1));
  EXPECT_EQ(h.late[0].watermark, At(60));
  EXPECT_EQ(h.late[0].row, 1u);  // row 0 was the pacer
  h.Weather("car", At(60) - Micros(1));
  h.Emergency("car", At(1));
  EXPECT_EQ(h.Late(), 3u);
  EXPECT_EQ(h.join.counters().late[0], 1u);
  EXPECT_EQ(h.join.counters().late[1], 1u);
  EXPECT_EQ(h.join.counters().late[2], 1u);
  h.Vehicle("car", At(60));  // exactly at the watermark: on time
  EXPECT_EQ(h.Late(), 3u);
  h.join.Flush(&h.out);
  std::vector<RowKey> rows = h.RowsOf("car");
  EXPECT_TRUE(rows.empty())
      << "the on-time vehicle has no weather at its time; the late ones are not joined";
}

TEST(JoinTest, OutOfOrderWithinDelayJoinsNormally) {
  JoinOptions o;
  o.watermark.delay = std::chrono::seconds(30);
  JoinHarness h(o);
  for (int t = 0; t < 20; ++t) h.Vehicle("car", At(100 - t));  // newest first
  h.Advance();
  EXPECT_EQ(h.join.watermark(), At(70));
  for (int t = 0; t < 20; ++t) h.Weather("car", At(81 + t));  // oldest first
  h.Advance();
  EXPECT_EQ(h.Late(), 0u);
  EXPECT_EQ(h.join.watermark(), At(70));
  h.SetWatermark(At(200));
  std::vector<RowKey> rows = h.RowsOf("car");
  ASSERT_EQ(rows.size(), 20u);
  for (const RowKey& r : rows) {
    // vehicle offset k was At(100 - k); weather offset m was At(81 + m): same timestamp.
    EXPECT_EQ(100 - std::get<2>(r), 81 + std::get<3>(r));
  }
  // Emitted in time order per device.
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end(), [](const RowKey& a, const RowKey& b) {
    return std::get<1>(a) < std::get<1>(b);
  }));
}

TEST(JoinTest, DuplicatesMultiply) {
  JoinHarness h;
  h.Vehicle("car", At(10));
  h.Vehicle("car", At(10));  // the same reading delivered twice
  h.Weather("car", At(10));
  h.Weather("car", At(10));
  h.SetWatermark(At(20));
  EXPECT_EQ(h.RowsOf("car").size(), 4u);
  h.Emergency("car", At(30));
  h.Emergency("car", At(30));
  h.Vehicle("car", At(30));
  h.Weather("car", At(30));
  EXPECT_EQ(h.RowsOf("car").size(), 6u);
}

TEST(JoinTest, SeveralEmergenciesForOneReading) {
  JoinHarness h;
  h.Vehicle("car", At(10));
  h.Weather("car", At(10));
  h.Emergency("car", At(10), "INC-A");
  h.Emergency("car", At(10), "INC-B");
  h.SetWatermark(At(20));
  std::vector<RowKey> rows = h.RowsOf("car");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(std::get<4>(rows[0]), 0);
  EXPECT_EQ(std::get<4>(rows[1]), 1);
  // The incident id and type are carried.
  int found = 0;
  for (size_t r = 0; r < h.out.num_rows(); ++r) {
    if (h.out.column(enriched_col::kDeviceId).GetString(r) != "car") continue;
    EXPECT_EQ(h.out.column(enriched_col::kEmergencyType).GetString(r), "Accident");
    EXPECT_EQ(h.out.column(enriched_col::kIncidentId).GetString(r), found == 0 ? "INC-A" : "INC-B");
    ++found;
  }
  EXPECT_EQ(found, 2);
}

TEST(JoinTest, DevicesDoNotMix) {
  JoinHarness h;
  for (int d = 0; d < 500; ++d) {
    const std::string dev = "dev-" + std::to_string(d);
    for (int t = 0; t < 3; ++t) h.Vehicle(dev, At(t));
    for (int t = 0; t < 3; ++t) {
      if ((d + t) % 2 == 0) h.Weather(dev, At(t));
    }
    if (d % 7 == 0) h.Emergency(dev, At(1));
  }
  h.SetWatermark(At(100));
  EXPECT_EQ(h.join.devices(), 501u);
  for (int d = 0; d < 500; ++d) {
    const std::string dev = "dev-" + std::to_string(d);
    std::vector<RowKey> rows = h.RowsOf(dev);
    const size_t expected = d % 2 == 0 ? 2 : 1;
    ASSERT_EQ(rows.size(), expected) << dev;
    for (const RowKey& r : rows) {
      const bool with_emergency = d % 7 == 0 && std::get<1>(r) == At(1).time_since_epoch().count();
      EXPECT_EQ(std::get<4>(r) >= 0, with_emergency) << dev;
    }
  }
}

TEST(JoinTest, StateIsEvictedBehindTheWatermark) {
  JoinHarness h(Window(5));
  for (int t = 0; t < 100; ++t) {
    h.Vehicle("car", At(t));
    h.Weather("car", At(t));
  }
  h.Emergency("car", At(50));
  EXPECT_EQ(h.join.StateRows(JoinInput::kVehicle), 100u);
  EXPECT_EQ(h.join.StateRows(JoinInput::kWeather), 100u);
  h.SetWatermark(At(60));
  // Vehicle readings with ts + 5 < 60 are gone: ts 0..54 -> 55 of them; 45 left plus the pacer.
  EXPECT_EQ(h.join.StateRows(JoinInput::kVehicle), 45u + 1);
  // Weather with ts + 10 < 60 is gone: ts 0..49; 50 left plus the pacer.
  EXPECT_EQ(h.join.StateRows(JoinInput::kWeather), 50u + 1);
  EXPECT_EQ(h.join.StateRows(JoinInput::kEmergency), 1u + 1);
  h.SetWatermark(At(1000));
  EXPECT_EQ(h.join.StateRows(JoinInput::kVehicle), 1u);  // the last pacer
  EXPECT_EQ(h.join.StateRows(JoinInput::kWeather), 1u);
  EXPECT_EQ(h.join.StateRows(JoinInput::kEmergency), 1u);
  // Reading t matches weather t-5..t+5 (11 rows, fewer at the ends); the emergency at 50 matches
  // readings 45..55, which get one row per weather with it instead of NULL rows.
  size_t expected = 0;
  for (int t = 0; t < 100; ++t)
    expected += static_cast<size_t>(std::min(99, t + 5) - std::max(0, t - 5) + 1);
  EXPECT_EQ(h.RowsOf("car").size(), expected);
  h.join.Flush(&h.out);
  EXPECT_EQ(h.join.StateRows(JoinInput::kVehicle), 0u);
}

TEST(JoinTest, DevicesWithoutStateAreForgotten) {
  JoinHarness h;
  for (int d = 0; d < 3000; ++d) {
    const std::string dev = "one-off-" + std::to_string(d);
    h.Vehicle(dev, At(d * 0.01));
    h.Weather(dev, At(d * 0.01));
  }
  EXPECT_EQ(h.join.devices(), 3000u);
  h.SetWatermark(At(100));
  EXPECT_EQ(h.join.devices(), 1u) << "only the pacer still has state";
  EXPECT_EQ(h.out.num_rows(), 3000u);
  h.Vehicle("one-off-7", At(200));  // a forgotten device comes back: a fresh entry
  h.Weather("one-off-7", At(200));
  h.join.Flush(&h.out);
  EXPECT_EQ(h.RowsOf("one-off-7").size(), 2u);
}

TEST(JoinTest, FlushEmitsPendingNullRows) {
  JoinHarness h;
  h.Vehicle("car", At(10));
  h.Weather("car", At(10));
  h.Vehicle("car", At(11));
  h.Weather("car", At(11));
  h.Emergency("car", At(11));
  EXPECT_EQ(h.RowsOf("car").size(), 1u);
  h.join.Flush(&h.out);
  ASSERT_EQ(h.RowsOf("car").size(), 2u);
  EXPECT_EQ(std::get<4>(h.RowsOf("car")[1]), -1);
  EXPECT_EQ(h.join.StateRows(JoinInput::kVehicle), 0u);
}

TEST(JoinTest, IdleEmergencyInputStopsHoldingTheWatermark) {
  JoinOptions o;
  o.watermark.idle_timeout = std::chrono::seconds(10);
  JoinHarness h(o);
  h.Emergency("car", At(0));
  h.Vehicle("car", At(600));
  h.Weather("car", At(600));
  EXPECT_EQ(h.Advance(), At(0) - std::chrono::minutes(2)) << "the emergency input holds it back";
  h.clock.Advance(std::chrono::seconds(9));
  h.Vehicle("car", At(601));
  h.Weather("car", At(601));
  EXPECT_EQ(h.Advance(), At(0) - std::chrono::minutes(2));
  h.clock.Advance(std::chrono::seconds(1));  // emergency silent for 10 s now
  h.Vehicle("car", At(602));
  h.Weather("car", At(602));
  EXPECT_EQ(h.Advance(), At(602) - std::chrono::minutes(2));
  EXPECT_FALSE(h.join.tracker().holding(JoinInput::kEmergency));
}

TEST(JoinTest, ReplayWithRecordedWatermarksIgnoresTheClock) {
  // First run: the emergency input goes idle (processing time), which moves the watermark.
  JoinOptions o;
  o.watermark.idle_timeout = std::chrono::seconds(5);
  JoinHarness live(o), replay(o);
  std::vector<EventTime> recorded;
  auto feed = [](JoinHarness& h, int t) {
    h.Vehicle("car", At(t));
    h.Weather("car", At(t));
    if (t == 3) h.Emergency("car", At(3));
  };
  for (int t = 0; t < 400; ++t) {
    feed(live, t);
    live.clock.Advance(std::chrono::seconds(1));
    recorded.push_back(live.join.ComputeWatermark());
    live.join.AdvanceWatermarkTo(recorded.back(), &live.out);
  }
  EXPECT_GT(live.join.watermark(), At(3)) << "the idle emergency input stopped holding it back";
  // Replay on a clock that never moves (so nothing is idle), applying the recorded watermarks.
  for (int t = 0; t < 400; ++t) {
    feed(replay, t);
    replay.join.AdvanceWatermarkTo(recorded[static_cast<size_t>(t)], &replay.out);
  }
  EXPECT_EQ(testing::Keys(live.out), testing::Keys(replay.out));
  EXPECT_GT(live.out.num_rows(), 200u);
  // Its own (frozen) clock would call for a lower watermark; computing never lowers it.
  EXPECT_EQ(replay.join.ComputeWatermark(), replay.join.watermark());
}

TEST(JoinTest, SerializeRestoreRoundTrip) {
  JoinHarness a(Window(2));
  for (int t = 0; t < 30; ++t) {
    a.Vehicle("a", At(t));
    a.Weather("a", At(t));
    a.Vehicle("b", At(t));
    if (t % 3 == 0) a.Weather("b", At(t));
  }
  a.Emergency("a", At(12), "INC-12");
  a.SetWatermark(At(10));
  std::string blob;
  ASSERT_TRUE(a.join.SerializeState(&blob).ok());

  JoinHarness b(Window(2));
  ASSERT_TRUE(b.join.RestoreState(blob).ok());
  EXPECT_EQ(b.join.watermark(), a.join.watermark());
  for (JoinInput i : {JoinInput::kVehicle, JoinInput::kWeather, JoinInput::kEmergency}) {
    EXPECT_EQ(b.join.StateRows(i), a.join.StateRows(i));
  }
  std::string again;
  ASSERT_TRUE(b.join.SerializeState(&again).ok());
  EXPECT_EQ(again, blob);

  // Same continuation, same output.
  const size_t a0 = a.out.num_rows();
  for (JoinHarness* h : {&a, &b}) {
    h->Emergency("b", At(20), "INC-20");
    h->SetWatermark(At(40));
    h->join.Flush(&h->out);
  }
  auto not_pacer = [](std::vector<RowKey> keys) {
    std::erase_if(keys, [](const RowKey& k) { return std::get<0>(k) == "pacer"; });
    return keys;
  };
  std::vector<RowKey> ka = not_pacer(testing::Keys(a.out, a0));
  std::vector<RowKey> kb = not_pacer(testing::Keys(b.out, 0));
  EXPECT_GT(ka.size(), 40u);
  // Offsets restart per harness; compare shape: device, ts and emergency presence.
  ASSERT_EQ(ka.size(), kb.size());
  for (size_t i = 0; i < ka.size(); ++i) {
    EXPECT_EQ(std::get<0>(ka[i]), std::get<0>(kb[i]));
    EXPECT_EQ(std::get<1>(ka[i]), std::get<1>(kb[i]));
    EXPECT_EQ(std::get<2>(ka[i]),
              std::get<2>(kb[i]));  // vehicle offsets come from the restored state
  }
}

TEST(JoinTest, RestoreRefusesDamagedOrMismatchedState) {
  JoinHarness a;
  a.Vehicle("a", At(1));
  a.Weather("a", At(1));
  std::string blob;
  ASSERT_TRUE(a.join.SerializeState(&blob).ok());
  JoinHarness b;
  for (size_t cut = 0; cut < blob.size(); ++cut) {
    Status s = b.join.RestoreState(std::string_view(blob).substr(0, cut));
    EXPECT_FALSE(s.ok()) << cut;
  }
  EXPECT_EQ(b.join.StateRows(JoinInput::kVehicle), 0u)
      << "a failed restore leaves the join unchanged";
  std::string junk = blob + "x";
  EXPECT_FALSE(b.join.RestoreState(junk).ok());
  JoinHarness c(Window(1));
  Status s = c.join.RestoreState(blob);
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(s.message().find("join window"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace smartcity::stream
