// Fuzz-style robustness of the parser: random bytes, truncations and mutations of valid simulator
// events must each give exactly one row (raw or dead letter), never a crash, never an exception,
// and batches that stay consistent. Run under ASan+UBSan by scripts/test.sh.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>

#include "simulation/simulator.h"
#include "stream/parser.h"
#include "stream/tables.h"

namespace smartcity::stream {
namespace {

struct Sample {
  Topic topic;
  std::string payload;
};

std::vector<Sample> ValidSamples() {
  simulation::SimulationOptions o;
  o.vehicles = 8;
  o.duration = std::chrono::minutes(3);
  o.incidents_per_vehicle_hour = 30;
  o.speedup = 0;
  auto sim = simulation::Simulator::Create(o);
  std::vector<Sample> out;
  std::vector<Message> tick;
  bool more = true;
  while (more) {
    more = (*sim)->NextTick(&tick);
    for (const Message& m : tick) out.push_back({m.topic, std::string(m.value)});
  }
  return out;
}

class ParserFuzzTest : public ::testing::Test {
 protected:
  void Feed(Topic topic, std::string_view payload) {
    RecordBatch& raw = raw_[static_cast<size_t>(topic)];
    const size_t before_raw = raw.num_rows(), before_dead = dead_.num_rows();
    const bool ok = parser_.Parse(topic, payload, SourcePosition{PartitionId(1), n_++},
                                  EventTime(Micros(0)), &raw, &dead_);
    ASSERT_EQ(raw.num_rows(), before_raw + (ok ? 1 : 0));
    ASSERT_EQ(dead_.num_rows(), before_dead + (ok ? 0 : 1));
    if (!ok) {
      const std::string_view reason = dead_.column(dead_letter_col::kReason).GetString(before_dead);
      ASSERT_FALSE(reason.empty());
      ASSERT_EQ(reason.find("internal parser error"), std::string_view::npos) << reason;
      ASSERT_TRUE(simdjson::validate_utf8(reason.data(), reason.size())) << reason;
      const std::string_view stored =
          dead_.column(dead_letter_col::kPayload).GetString(before_dead);
      const bool utf8 =
          dead_.column(dead_letter_col::kPayloadEncoding).GetString(before_dead) == "utf-8";
      ASSERT_TRUE(simdjson::validate_utf8(stored.data(), stored.size()));
      if (utf8) {
        ASSERT_EQ(stored, payload);
      }
      ASSERT_EQ(dead_.column(dead_letter_col::kPayloadBytes).GetInt64(before_dead),
                static_cast<int64_t>(payload.size()));
      ++dead_count_;
    } else {
      ++valid_count_;
    }
    if (n_ % 4096 == 0) Reset();
  }
  void Reset() {
    for (RecordBatch& b : raw_) {
      for (size_t c = 0; c < b.num_columns(); ++c) ASSERT_EQ(b.column(c).size(), b.num_rows());
      b.Clear();
    }
    for (size_t c = 0; c < dead_.num_columns(); ++c)
      ASSERT_EQ(dead_.column(c).size(), dead_.num_rows());
    dead_.Clear();
  }

  EventParser parser_;
  std::array<RecordBatch, kTopicCount> raw_{
      RecordBatch(RawSchema(Topic::kVehicle)), RecordBatch(RawSchema(Topic::kGps)),
      RecordBatch(RawSchema(Topic::kTraffic)), RecordBatch(RawSchema(Topic::kWeather)),
      RecordBatch(RawSchema(Topic::kEmergency))};
  RecordBatch dead_{DeadLetterSchema()};
  int64_t n_ = 0;
  size_t valid_count_ = 0, dead_count_ = 0;
};

TEST_F(ParserFuzzTest, ValidEventsAllParse) {
  const std::vector<Sample> samples = ValidSamples();
  ASSERT_GT(samples.size(), 1000u);
  for (const Sample& s : samples) ASSERT_NO_FATAL_FAILURE(Feed(s.topic, s.payload));
  EXPECT_EQ(dead_count_, 0u) << parser_.last_reason();
  // The same payload under another topic is a dead letter (missing fields), never a crash.
  for (size_t i = 0; i < samples.size(); i += 7) {
    ASSERT_NO_FATAL_FAILURE(
        Feed(static_cast<Topic>((static_cast<size_t>(samples[i].topic) + 1) % kTopicCount),
             samples[i].payload));
  }
  EXPECT_GT(dead_count_, 0u);
}

TEST_F(ParserFuzzTest, EveryTruncationIsADeadLetter) {
  const std::vector<Sample> samples = ValidSamples();
  for (size_t i = 0; i < samples.size(); i += samples.size() / 40) {
    const Sample& s = samples[i];
    for (size_t len = 0; len < s.payload.size(); ++len) {
      ASSERT_NO_FATAL_FAILURE(Feed(s.topic, std::string_view(s.payload).substr(0, len)));
    }
  }
  EXPECT_EQ(valid_count_, 0u);
}

TEST_F(ParserFuzzTest, RandomMutationsNeverCrash) {
  const std::vector<Sample> samples = ValidSamples();
  std::mt19937_64 rng(20261121);
  const std::string_view alphabet = "{}[]\":,.-+eE0123456789 \\ntruefalsnul\x01\x7f\xc3\xa9\xff";
  std::string p;
  for (int iter = 0; iter < 60000; ++iter) {
    const Sample& s = samples[rng() % samples.size()];
    p = s.payload;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !p.empty(); ++e) {
      const size_t at = rng() % p.size();
      switch (rng() % 6) {
        case 0:
          p[at] = static_cast<char>(rng() & 0xff);
          break;  // random byte
        case 1:
          p[at] = alphabet[rng() % alphabet.size()];
          break;  // structural byte
        case 2:
          p.erase(at, 1 + rng() % 8);
          break;  // delete
        case 3:
          p.insert(at, 1 + rng() % 4, alphabet[rng() % alphabet.size()]);
          break;  // insert
        case 4:
          p.insert(at, samples[rng() % samples.size()].payload.substr(0, rng() % 40));
          break;  // splice
        case 5:
          p.resize(at);
          break;  // truncate
      }
    }
    ASSERT_NO_FATAL_FAILURE(Feed(s.topic, p));
  }
  EXPECT_GT(dead_count_, 1000u);
  EXPECT_GT(valid_count_, 100u) << "some mutations land in ignorable places (e.g. inside strings)";
}

TEST_F(ParserFuzzTest, RandomBytesAndHostileShapes) {
  std::mt19937_64 rng(7);
  std::string p;
  for (int iter = 0; iter < 20000; ++iter) {
    p.resize(rng() % 300);
    for (char& c : p) c = static_cast<char>(rng() & 0xff);
    ASSERT_NO_FATAL_FAILURE(Feed(static_cast<Topic>(rng() % kTopicCount), p));
  }
  const std::string deep_array =
      "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  ASSERT_NO_FATAL_FAILURE(Feed(Topic::kVehicle, deep_array));
  const std::string deep_open = std::string(60000, '{');
  ASSERT_NO_FATAL_FAILURE(Feed(Topic::kVehicle, deep_open));
  const std::string deep_object = std::string(2000, '[') + "1" + std::string(2000, ']');
  ASSERT_NO_FATAL_FAILURE(Feed(Topic::kVehicle, deep_object));
  ASSERT_NO_FATAL_FAILURE(Feed(Topic::kVehicle, std::string(1000, '"')));
  for (int depth : {200, 300, 1000, 1023, 1024, 1025}) {
    const std::string nested = "{\"x\":" + std::string(static_cast<size_t>(depth), '[') +
                               std::string(static_cast<size_t>(depth), ']') + "} trailing";
    ASSERT_NO_FATAL_FAILURE(Feed(Topic::kVehicle, nested));
    ASSERT_NO_FATAL_FAILURE(Feed(Topic::kVehicle, nested.substr(0, nested.size() / 2)));
  }
  ASSERT_NO_FATAL_FAILURE(Feed(Topic::kVehicle, std::string_view("\0\0\0", 3)));
  ASSERT_NO_FATAL_FAILURE(Feed(Topic::kWeather, R"({"location":{"lat":1e308,"lon":-1e308}})"));
  ASSERT_NO_FATAL_FAILURE(Feed(Topic::kWeather, R"({"humidity":99999999999999999999999})"));
  ASSERT_NO_FATAL_FAILURE(Feed(Topic::kWeather, R"({"humidity":-9223372036854775808})"));
  EXPECT_EQ(valid_count_, 0u);
}

}  // namespace
}  // namespace smartcity::stream
