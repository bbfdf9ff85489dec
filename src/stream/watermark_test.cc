#include "stream/watermark.h"

#include <gtest/gtest.h>

#include "stream/stream_testutil.h"

namespace smartcity::stream {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::At;

class WatermarkTest : public ::testing::Test {
 protected:
  WatermarkOptions Options() {
    WatermarkOptions o;
    o.delay = minutes(2);
    o.idle_timeout = seconds(30);
    return o;
  }
  FakeClock clock_;
};

TEST_F(WatermarkTest, NoWatermarkBeforeData) {
  WatermarkTracker t(Options(), &clock_);
  EXPECT_EQ(t.watermark(), EventTime::min());
  EXPECT_EQ(t.Advance(), EventTime::min());
  EXPECT_FALSE(t.IsLate(At(-1e6)));
}

TEST_F(WatermarkTest, MaxEventTimeMinusDelayAndMinimumOverInputs) {
  WatermarkTracker t(Options(), &clock_);
  t.Observe(JoinInput::kVehicle, At(600));
  EXPECT_EQ(t.watermark(), EventTime::min()) << "only Advance() moves it";
  EXPECT_EQ(t.Advance(), At(480));
  t.Observe(JoinInput::kWeather, At(300));
  EXPECT_EQ(t.Advance(), At(480)) << "never backwards, even when a slower input appears";
  t.Observe(JoinInput::kVehicle, At(900));
  t.Observe(JoinInput::kWeather, At(700));
  EXPECT_EQ(t.Advance(), At(580)) << "the slower input decides";
  t.Observe(JoinInput::kVehicle, At(100));  // an old record does not lower the input's maximum
  EXPECT_EQ(t.InputWatermark(JoinInput::kVehicle), At(780));
  EXPECT_TRUE(t.IsLate(At(580) - Micros(1)));
  EXPECT_FALSE(t.IsLate(At(580)));
}

TEST_F(WatermarkTest, AnInputWithUnreadRecordsHoldsTheWatermarkEvenBeforeItsFirstRecord) {
  WatermarkTracker t(Options(), &clock_);
  // Weather was fetched first; the vehicle partition has records the source has not delivered yet.
  t.SetBacklog(JoinInput::kVehicle, true);
  t.Observe(JoinInput::kWeather, At(3600));
  EXPECT_EQ(t.Advance(), EventTime::min())
      << "the vehicle input's event times are unknown: no movement";
  EXPECT_TRUE(t.holding(JoinInput::kVehicle));
  t.Observe(JoinInput::kVehicle, At(600));
  EXPECT_EQ(t.Advance(), At(480)) << "now it holds at its own watermark";
  clock_.Advance(minutes(10));  // long silent, but still behind its end: not idle
  EXPECT_EQ(t.Advance(), At(480));
  t.SetBacklog(JoinInput::kVehicle, false);  // caught up and silent: idle
  EXPECT_EQ(t.Advance(), At(3480));
}

TEST_F(WatermarkTest, RestoringStateKeepsTheBacklogFlags) {
  WatermarkTracker a(Options(), &clock_);
  a.Observe(JoinInput::kWeather, At(3600));
  std::string state;
  ASSERT_TRUE(a.SerializeState(&state).ok());
  WatermarkTracker b(Options(), &clock_);
  b.SetBacklog(JoinInput::kVehicle, true);  // set before the restore, as the processor does
  ASSERT_TRUE(b.RestoreState(state).ok());
  EXPECT_EQ(b.Advance(), EventTime::min()) << "the vehicle input still has unread records";
}

TEST_F(WatermarkTest, AnEmptyInputWithNoBacklogDoesNotHold) {
  WatermarkTracker t(Options(), &clock_);
  t.SetBacklog(JoinInput::kEmergency, false);
  t.Observe(JoinInput::kVehicle, At(600));
  t.Observe(JoinInput::kWeather, At(600));
  EXPECT_EQ(t.Advance(), At(480));
  EXPECT_FALSE(t.holding(JoinInput::kEmergency));
}

TEST_F(WatermarkTest, IdleInputStopsHoldingBackAndResumesWhenActive) {
  WatermarkTracker t(Options(), &clock_);
  t.Observe(JoinInput::kVehicle, At(1000));
  t.Observe(JoinInput::kWeather, At(1000));
  t.Observe(JoinInput::kEmergency, At(200));
  EXPECT_EQ(t.Advance(), At(80));
  clock_.Advance(seconds(29));
  t.Observe(JoinInput::kVehicle, At(1029));
  t.Observe(JoinInput::kWeather, At(1029));
  EXPECT_EQ(t.Advance(), At(80)) << "29 s of silence is not idle yet";
  EXPECT_TRUE(t.holding(JoinInput::kEmergency));
  clock_.Advance(seconds(1));
  t.Observe(JoinInput::kVehicle, At(1030));
  t.Observe(JoinInput::kWeather, At(1030));
  EXPECT_EQ(t.Advance(), At(910));
  EXPECT_FALSE(t.holding(JoinInput::kEmergency));
  // The emergency input wakes up with old data: it holds again, but the watermark does not go back.
  t.Observe(JoinInput::kEmergency, At(500));
  EXPECT_EQ(t.Advance(), At(910));
  EXPECT_TRUE(t.holding(JoinInput::kEmergency));
  t.Observe(JoinInput::kVehicle, At(2000));
  t.Observe(JoinInput::kWeather, At(2000));
  EXPECT_EQ(t.Advance(), At(910)) << "the woken input holds it at its own (lower) watermark";
  t.Observe(JoinInput::kEmergency, At(1500));
  EXPECT_EQ(t.Advance(), At(1380));
}

TEST_F(WatermarkTest, InputWithoutDataDoesNotHoldBack) {
  WatermarkTracker t(Options(), &clock_);
  t.Observe(JoinInput::kVehicle, At(500));
  t.Observe(JoinInput::kWeather, At(400));
  EXPECT_EQ(t.Advance(), At(280));
  EXPECT_FALSE(t.has_data(JoinInput::kEmergency));
  EXPECT_FALSE(t.holding(JoinInput::kEmergency));
}

TEST_F(WatermarkTest, AllIdleMovesToTheLargestInputWatermark) {
  WatermarkTracker t(Options(), &clock_);
  t.Observe(JoinInput::kVehicle, At(500));
  t.Observe(JoinInput::kWeather, At(400));
  EXPECT_EQ(t.Advance(), At(280));
  clock_.Advance(minutes(1));
  EXPECT_EQ(t.Advance(), At(380));
}

TEST_F(WatermarkTest, SerializeRestoreKeepsIdleAges) {
  WatermarkTracker t(Options(), &clock_);
  t.Observe(JoinInput::kVehicle, At(500));
  t.Observe(JoinInput::kEmergency, At(100));
  clock_.Advance(seconds(20));
  t.Observe(JoinInput::kWeather, At(450));
  t.Advance();
  std::string blob;
  ASSERT_TRUE(t.SerializeState(&blob).ok());

  FakeClock other;  // a restarted process: a different processing-time origin
  other.Advance(minutes(90));
  WatermarkTracker r(Options(), &other);
  ASSERT_TRUE(r.RestoreState(blob).ok());
  EXPECT_EQ(r.watermark(), t.watermark());
  for (JoinInput i : {JoinInput::kVehicle, JoinInput::kWeather, JoinInput::kEmergency}) {
    EXPECT_EQ(r.InputWatermark(i), t.InputWatermark(i));
  }
  // 10 s later the vehicle and emergency inputs have been silent 30 s in both: both go idle
  // together.
  clock_.Advance(seconds(10));
  other.Advance(seconds(10));
  EXPECT_EQ(t.Advance(), r.Advance());
  EXPECT_EQ(t.Advance(), At(330));

  WatermarkOptions different = Options();
  different.delay = minutes(5);
  WatermarkTracker d(different, &other);
  Status s = d.RestoreState(blob);
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument);
  EXPECT_FALSE(r.RestoreState(std::string_view(blob).substr(0, blob.size() - 1)).ok());
}

TEST_F(WatermarkTest, PeekSaysWhatComputeWouldAndChangesNothing) {
  WatermarkTracker t(Options(), &clock_);
  t.Observe(JoinInput::kVehicle, At(600));
  t.Observe(JoinInput::kWeather, At(500));
  EXPECT_EQ(t.Peek(), At(380));
  EXPECT_FALSE(t.holding(JoinInput::kWeather)) << "Peek sets no flag";
  EXPECT_EQ(t.watermark(), EventTime::min()) << "nor the watermark";
  // The weather input goes idle: the watermark the inputs call for moves on, seen by Peek first.
  clock_.Advance(seconds(31));
  EXPECT_EQ(t.Peek(), At(480));
  EXPECT_EQ(t.Compute(), At(480));
  EXPECT_EQ(t.Peek(), t.Compute());
}

}  // namespace
}  // namespace smartcity::stream
