// ParseFaultSpec and SimulationOptions::Validate: every impossible option is a clear
// InvalidArgument, never a crash, and the simulator refuses to start with one.
#include "simulation/options.h"

#include <gtest/gtest.h>

#include <cmath>

#include "simulation/simulator.h"

namespace smartcity::simulation {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(FaultSpecTest, ParsesEveryKindWithRateAndDefaults) {
  struct Case {
    const char* text;
    FaultKind kind;
    double rate;
    Micros delay;
  };
  const Case cases[] = {
      {"late=0.01@5m", FaultKind::kLate, 0.01, minutes(5)},
      {"late=0.5", FaultKind::kLate, 0.5, minutes(5)},  // default: beyond the 2 min watermark
      {"reorder=0.05@10s", FaultKind::kReorder, 0.05, seconds(10)},
      {"reorder=1", FaultKind::kReorder, 1.0, seconds(5)},
      {"duplicate=0.001", FaultKind::kDuplicate, 0.001, Micros(0)},
      {"malformed=0", FaultKind::kMalformed, 0.0, Micros(0)},
      {"wrong-type=0.2", FaultKind::kWrongType, 0.2, Micros(0)},
      {"missing-field=0.3", FaultKind::kMissingField, 0.3, Micros(0)},
      {"oversize=1e-3", FaultKind::kOversize, 0.001, Micros(0)},
  };
  for (const Case& c : cases) {
    auto spec = ParseFaultSpec(c.text);
    ASSERT_TRUE(spec.ok()) << c.text << ": " << spec.status().message();
    EXPECT_EQ(spec->kind, c.kind) << c.text;
    EXPECT_DOUBLE_EQ(spec->rate, c.rate) << c.text;
    EXPECT_EQ(spec->delay, c.delay) << c.text;
  }
}

TEST(FaultSpecTest, KindNamesRoundTrip) {
  for (size_t i = 0; i < kFaultKindCount; ++i) {
    const auto kind = static_cast<FaultKind>(i);
    auto spec = ParseFaultSpec(std::string(FaultKindName(kind)) + "=0.1");
    ASSERT_TRUE(spec.ok()) << FaultKindName(kind);
    EXPECT_EQ(spec->kind, kind);
  }
}

TEST(FaultSpecTest, RejectsBadSpecsWithAClearMessage) {
  struct Case {
    const char* text;
    const char* mentions;  // a word the message must contain
  };
  const Case cases[] = {
      {"late", "KIND=RATE"},
      {"", "KIND=RATE"},
      {"lateness=0.1", "unknown fault kind 'lateness'"},
      {"=0.1", "unknown fault kind"},
      {"Late=0.1", "unknown fault kind"},
      {"late=-0.1", "between 0 and 1"},
      {"late=1.5", "between 0 and 1"},
      {"late=abc", "between 0 and 1"},
      {"late=", "between 0 and 1"},
      {"late=0.1x", "between 0 and 1"},
      {"late=nan", "between 0 and 1"},
      {"late=inf", "between 0 and 1"},
      {"duplicate=0.1@5s", "only late and reorder"},
      {"late=0.1@0s", "more than zero"},
      {"late=0.1@-5s", ""},
      {"late=0.1@soon", ""},
  };
  for (const Case& c : cases) {
    auto spec = ParseFaultSpec(c.text);
    ASSERT_FALSE(spec.ok()) << c.text;
    EXPECT_EQ(spec.status().kind(), ErrorKind::kInvalidArgument) << c.text;
    EXPECT_NE(spec.status().message().find(c.mentions), std::string::npos)
        << c.text << " -> " << spec.status().message();
    EXPECT_EQ(spec.status().message().find('\n'), std::string::npos) << "one line: " << c.text;
    EXPECT_FALSE(spec.status().message().empty()) << c.text;
  }
}

TEST(OptionsTest, DefaultsAreValid) {
  EXPECT_TRUE(SimulationOptions{}.Validate().ok());
}

TEST(OptionsTest, RejectsImpossibleOptions) {
  struct Case {
    const char* what;
    void (*mutate)(SimulationOptions&);
    const char* mentions;
  };
  const Case cases[] = {
      {"0 vehicles", [](SimulationOptions& o) { o.vehicles = 0; }, "--vehicles"},
      {"negative vehicles", [](SimulationOptions& o) { o.vehicles = -3; }, "--vehicles"},
      {"too many vehicles", [](SimulationOptions& o) { o.vehicles = 2'000'000; }, "--vehicles"},
      {"zero tick", [](SimulationOptions& o) { o.tick = Micros(0); }, "--tick"},
      {"sub-ms tick", [](SimulationOptions& o) { o.tick = Micros(10); }, "--tick"},
      {"negative speedup", [](SimulationOptions& o) { o.speedup = -1; }, "--speedup"},
      {"NaN speedup", [](SimulationOptions& o) { o.speedup = std::nan(""); }, "--speedup"},
      {"infinite speedup", [](SimulationOptions& o) { o.speedup = HUGE_VAL; }, "--speedup"},
      {"zero duration", [](SimulationOptions& o) { o.duration = Micros(0); }, "--duration"},
      {"negative duration", [](SimulationOptions& o) { o.duration = Micros(-5); }, "--duration"},
      {"zero count", [](SimulationOptions& o) { o.count = 0; }, "--count"},
      {"tiny oversize", [](SimulationOptions& o) { o.oversize_bytes = 10; }, "--oversize-bytes"},
      {"negative incident rate", [](SimulationOptions& o) { o.incidents_per_vehicle_hour = -1; },
       "--incident-rate"},
      {"NaN incident rate",
       [](SimulationOptions& o) { o.incidents_per_vehicle_hour = std::nan(""); },
       "--incident-rate"},
      {"fault twice",
       [](SimulationOptions& o) {
         o.faults = {{FaultKind::kDuplicate, 0.1, Micros(0)},
                     {FaultKind::kDuplicate, 0.2, Micros(0)}};
       },
       "given twice"},
      {"fault rates above 1",
       [](SimulationOptions& o) {
         o.faults = {{FaultKind::kDuplicate, 0.6, Micros(0)},
                     {FaultKind::kMalformed, 0.6, Micros(0)}};
       },
       "more than 1"},
  };
  for (const Case& c : cases) {
    SimulationOptions o;
    c.mutate(o);
    const Status st = o.Validate();
    ASSERT_FALSE(st.ok()) << c.what;
    EXPECT_EQ(st.kind(), ErrorKind::kInvalidArgument) << c.what;
    EXPECT_NE(st.message().find(c.mentions), std::string::npos) << c.what << " -> " << st.message();
    // The simulator refuses the same options with the same error rather than misbehaving.
    auto sim = Simulator::Create(o);
    ASSERT_FALSE(sim.ok()) << c.what;
    EXPECT_EQ(sim.status().message(), st.message()) << c.what;
  }
}

TEST(OptionsTest, AcceptsBoundaryValues) {
  SimulationOptions o;
  o.vehicles = 1;
  o.speedup = 0;  // "max"
  o.tick = std::chrono::milliseconds(1);
  o.count = 1;
  o.incidents_per_vehicle_hour = 0;
  o.faults = {{FaultKind::kDuplicate, 0.5, Micros(0)},
              {FaultKind::kMalformed, 0.5, Micros(0)}};  // sum exactly 1
  EXPECT_TRUE(o.Validate().ok()) << o.Validate().message();
}

}  // namespace
}  // namespace smartcity::simulation
