#include "stream/parser.h"

#include <gtest/gtest.h>

#include "stream/tables.h"

namespace smartcity::stream {
namespace {

constexpr std::string_view kVehicle =
    R"({"id":"6b041854-a806-4a59-9468-449ebede1a02","deviceId":"vehicle-0001","timestamp":"2026-01-05T07:00:00.167405Z",)"
    R"J("location":"(51.507424, -0.127842)","speed":14.40,"direction":"North-West","make":"Nissan","model":"Qashqai",)J"
    R"("year":2017,"fuelType":"Petrol"})";
constexpr std::string_view kWeather =
    R"J({"id":"500cecad-208c-4ffb-a71d-081b80b6498a","deviceId":"vehicle-0001","location":"(51.507424, -0.127842)",)J"
    R"("timestamp":"2026-01-05T07:00:00.167405Z","temperature":2.9,"weatherCondition":"Cloudy","precipitation":0.0,)"
    R"("windSpeed":7.6,"humidity":85,"airQualityIndex":98})";
constexpr std::string_view kGps =
    R"({"id":"dca2e83c","deviceId":"vehicle-0001","timestamp":"2026-01-05T07:00:00.167405Z","speed":14.40,)"
    R"("direction":"North-West","vehicleType":"private"})";
constexpr std::string_view kTraffic =
    R"J({"id":"23d994f8","deviceId":"vehicle-0002","cameraId":"CAM-M40-018","location":"(51.717436, -1.051270)",)J"
    R"("timestamp":"2026-01-05T07:01:15.865097Z","snapshot":"d66fwYkA25HPxFUUG5rSy"})";
constexpr std::string_view kEmergency =
    R"({"id":"e1","deviceId":"vehicle-0003","incidentId":"INC-1a2b3c4d","type":"Fire",)"
    R"J("timestamp":"2026-01-05T07:10:00.000001Z","location":"(52.0, -1.2)","status":"Active","description":"Car fire"})J";

const EventTime kReceived = EventTime(Micros(1'767'600'000'000'000LL));

std::string Replace(std::string_view s, std::string_view from, std::string_view to) {
  std::string out(s);
  const size_t pos = out.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) out.replace(pos, from.size(), to);
  return out;
}

class ParserTest : public ::testing::Test {
 protected:
  // Parses and returns "" when valid, else the dead-letter reason (checked against the row
  // written).
  std::string Check(Topic topic, std::string_view payload) {
    RecordBatch& raw = raw_[static_cast<size_t>(topic)];
    const size_t raw_before = raw.num_rows(), dl_before = dead_.num_rows();
    const bool ok =
        parser_.Parse(topic, payload, SourcePosition{PartitionId(3), 77}, kReceived, &raw, &dead_);
    EXPECT_EQ(raw.num_rows(), raw_before + (ok ? 1 : 0));
    EXPECT_EQ(dead_.num_rows(), dl_before + (ok ? 0 : 1));
    if (ok) return "";
    EXPECT_EQ(dead_.column(dead_letter_col::kReason).GetString(dl_before), parser_.last_reason());
    return std::string(parser_.last_reason());
  }
  const RecordBatch& Raw(Topic t) const { return raw_[static_cast<size_t>(t)]; }

  EventParser parser_;
  std::array<RecordBatch, kTopicCount> raw_{
      RecordBatch(RawSchema(Topic::kVehicle)), RecordBatch(RawSchema(Topic::kGps)),
      RecordBatch(RawSchema(Topic::kTraffic)), RecordBatch(RawSchema(Topic::kWeather)),
      RecordBatch(RawSchema(Topic::kEmergency))};
  RecordBatch dead_{DeadLetterSchema()};
};

TEST_F(ParserTest, ValidVehicleBecomesOneTypedRow) {
  ASSERT_EQ(Check(Topic::kVehicle, kVehicle), "");
  const RecordBatch& b = Raw(Topic::kVehicle);
  using namespace vehicle_col;
  EXPECT_EQ(b.column(kId).GetString(0), "6b041854-a806-4a59-9468-449ebede1a02");
  EXPECT_EQ(b.column(kDeviceId).GetString(0), "vehicle-0001");
  EXPECT_EQ(b.column(kTimestamp).GetInt64(0), 1'767'596'400'167'405LL);
  EXPECT_DOUBLE_EQ(b.column(kLatitude).GetDouble(0), 51.507424);
  EXPECT_DOUBLE_EQ(b.column(kLongitude).GetDouble(0), -0.127842);
  EXPECT_DOUBLE_EQ(b.column(kSpeed).GetDouble(0), 14.4);
  EXPECT_EQ(b.column(kDirection).GetString(0), "North-West");
  EXPECT_EQ(b.column(kMake).GetString(0), "Nissan");
  EXPECT_EQ(b.column(kModel).GetString(0), "Qashqai");
  EXPECT_EQ(b.column(kYear).GetInt32(0), 2017);
  EXPECT_EQ(b.column(kFuelType).GetString(0), "Petrol");
  EXPECT_EQ(b.column(kPartition).GetInt32(0), 3);
  EXPECT_EQ(b.column(kOffset).GetInt64(0), 77);
  EXPECT_EQ(b.column(kDate).GetString(0), "2026-01-05");
  EXPECT_EQ(parser_.counters().valid[0], 1u);
}

TEST_F(ParserTest, EveryTopicParses) {
  EXPECT_EQ(Check(Topic::kGps, kGps), "");
  EXPECT_EQ(Check(Topic::kTraffic, kTraffic), "");
  EXPECT_EQ(Check(Topic::kWeather, kWeather), "");
  EXPECT_EQ(Check(Topic::kEmergency, kEmergency), "");
  EXPECT_EQ(Raw(Topic::kWeather).column(weather_col::kHumidity).GetInt32(0), 85);
  EXPECT_EQ(Raw(Topic::kWeather).column(weather_col::kWeatherCondition).GetString(0), "Cloudy");
  EXPECT_EQ(Raw(Topic::kEmergency).column(emergency_col::kType).GetString(0), "Fire");
  EXPECT_EQ(Raw(Topic::kEmergency).column(emergency_col::kTimestamp).GetInt64(0),
            1'767'597'000'000'001LL);
  EXPECT_DOUBLE_EQ(Raw(Topic::kTraffic).column(traffic_col::kLongitude).GetDouble(0), -1.05127);
  for (Topic t : kAllTopics) {
    const RecordBatch& b = Raw(t);
    for (size_t c = 0; c < b.num_columns(); ++c) EXPECT_EQ(b.column(c).size(), b.num_rows()) << c;
  }
}

TEST_F(ParserTest, LocationForms) {
  for (std::string_view form :
       {R"("51.5,-0.12")", R"J(" ( 51.5 , -0.12 ) ")J", R"([51.5, -0.12])",
        R"({"lat":51.5,"lon":-0.12})", R"({"lon":-0.12,"extra":true,"lat":51.5})",
        R"({"latitude":51.5,"longitude":-0.12})"}) {
    SCOPED_TRACE(form);
    ASSERT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"J("(51.507424, -0.127842)")J", form)), "");
    const RecordBatch& b = Raw(Topic::kVehicle);
    EXPECT_DOUBLE_EQ(b.column(vehicle_col::kLatitude).GetDouble(b.num_rows() - 1), 51.5);
    EXPECT_DOUBLE_EQ(b.column(vehicle_col::kLongitude).GetDouble(b.num_rows() - 1), -0.12);
  }
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"J("(51.507424, -0.127842)")J", R"("51.5")")),
            "field location: '51.5' is not \"(lat, lon)\" or \"lat,lon\"");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"J("(51.507424, -0.127842)")J", "[51.5]")),
            "field location: an array must be [lat, lon] (two numbers)");
  EXPECT_EQ(
      Check(Topic::kVehicle, Replace(kVehicle, R"J("(51.507424, -0.127842)")J", R"([51.5,"x"])")),
      "field location: an array must be [lat, lon] (two numbers)");
  EXPECT_EQ(
      Check(Topic::kVehicle, Replace(kVehicle, R"J("(51.507424, -0.127842)")J", R"({"lat":1})")),
      "field location: an object needs \"lat\" and \"lon\"");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"J("(51.507424, -0.127842)")J", "true")),
            "field location: expected string, array or object, got boolean");
  EXPECT_EQ(
      Check(Topic::kVehicle, Replace(kVehicle, R"J("(51.507424, -0.127842)")J", R"J("(91, 0)")J")),
      "field location: (91, 0) is not a latitude in -90..90 and a longitude in -180..180");
  EXPECT_EQ(
      Check(Topic::kVehicle,
            Replace(kVehicle, R"J("(51.507424, -0.127842)")J", R"J("(0, -180.5)")J")),
      "field location: (0, -180.5) is not a latitude in -90..90 and a longitude in -180..180");
}

TEST_F(ParserTest, TimestampsAreNormalisedToUtcMicros) {
  const int64_t base = 1'767'596'400'000'000LL;  // 2026-01-05T07:00:00Z
  const std::pair<std::string_view, int64_t> cases[] = {
      {"2026-01-05T07:00:00Z", base},      {"2026-01-05T07:00:00.5Z", base + 500'000},
      {"2026-01-05T08:00:00+01:00", base}, {"2026-01-05T02:30:00.000001-04:30", base + 1},
      {"2026-01-05T07:00:00", base},
  };
  for (const auto& [text, micros] : cases) {
    SCOPED_TRACE(text);
    ASSERT_EQ(Check(Topic::kGps, Replace(kGps, "2026-01-05T07:00:00.167405Z", text)), "");
    const RecordBatch& b = Raw(Topic::kGps);
    EXPECT_EQ(b.column(gps_col::kTimestamp).GetInt64(b.num_rows() - 1), micros);
  }
  EXPECT_EQ(Check(Topic::kGps, Replace(kGps, "2026-01-05T07:00:00.167405Z", "yesterday")),
            "field timestamp: 'yesterday' is not an ISO-8601 timestamp");
  EXPECT_EQ(
      Check(Topic::kGps, Replace(kGps, "2026-01-05T07:00:00.167405Z", "1969-12-31T23:59:59Z")),
      "field timestamp: '1969-12-31T23:59:59Z' is outside 1970..2199");
  EXPECT_EQ(Check(Topic::kGps, Replace(kGps, R"("2026-01-05T07:00:00.167405Z")", "1767596400")),
            "field timestamp: expected string, got number");
}

TEST_F(ParserTest, PreciseReasons) {
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"("speed":14.40,)", "")),
            "missing field speed");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, "2017", R"("2017")")),
            "field year: expected integer, got string");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, "2017", "2017.5")),
            "field year: expected integer, got number 2017.5");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, "2017", "1700")),
            "field year: 1700 is outside 1886..2100");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, "14.40", R"("n/a")")),
            "field speed: expected number, got string");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, "14.40", "-3")),
            "field speed: -3 is outside 0..500");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, "14.40", "null")),
            "field speed: expected number, got null");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"("Nissan")", "true")),
            "field make: expected string, got boolean");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"("vehicle-0001")", R"("")")),
            "field deviceId: must not be empty");
  EXPECT_EQ(Check(Topic::kWeather, Replace(kWeather, "85", "150")),
            "field humidity: 150 is outside 0..100");
  EXPECT_EQ(Check(Topic::kWeather, Replace(kWeather, "85", "85.5")),
            "field humidity: expected integer, got number 85.5");
  EXPECT_EQ(Check(Topic::kWeather, Replace(kWeather, "Cloudy", "Hail")),
            "field weatherCondition: 'Hail' is not one of Sunny, Cloudy, Rain, Snow, Fog");
  EXPECT_EQ(Check(Topic::kEmergency, Replace(kEmergency, R"("Fire")", R"("Flood")")),
            "field type: 'Flood' is not one of Accident, Fire, Medical, Police, None");
  EXPECT_EQ(Check(Topic::kEmergency, Replace(kEmergency, "Active", "Ongoing")),
            "field status: 'Ongoing' is not one of Active, Resolved");
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"("fuelType")", R"("year":2017,"fuelType")")),
            "duplicate field year");
  EXPECT_EQ(Check(Topic::kVehicle, "[1,2]"), "payload is a JSON array, expected an object");
  EXPECT_EQ(Check(Topic::kVehicle, "42"), "payload is a JSON number, expected an object");
  EXPECT_EQ(Check(Topic::kVehicle, ""), "invalid JSON: the payload is empty");
  const std::string cut(kVehicle.substr(0, 57));
  EXPECT_EQ(Check(Topic::kVehicle, cut).rfind("invalid JSON", 0), 0u)
      << Check(Topic::kVehicle, cut);
  EXPECT_EQ(Check(Topic::kVehicle, std::string(kVehicle) + "{}").rfind("invalid JSON", 0), 0u);
  EXPECT_EQ(
      Check(Topic::kVehicle, R"({"id":"a","deviceId":"b","speed":1e999})").rfind("invalid JSON", 0),
      0u);
}

// The seeds' own producer (jobs/producer.py, docs/formats/simulator_output.md "Records of other
// producers"): a float airQualityIndex, emergency type "None", naive timestamps with microseconds,
// location as a [lat, lon] array (a Python tuple).
TEST_F(ParserTest, SeedProducerRecordsAreData) {
  using namespace weather_col;
  ASSERT_EQ(Check(Topic::kWeather,
                  Replace(kWeather, R"("airQualityIndex":98)", R"("airQualityIndex":98.49999)")),
            "");
  ASSERT_EQ(Check(Topic::kWeather,
                  Replace(kWeather, R"("airQualityIndex":98)", R"("airQualityIndex":98.5)")),
            "");
  ASSERT_EQ(Check(Topic::kWeather,
                  Replace(kWeather, R"("airQualityIndex":98)", R"("airQualityIndex":0.4)")),
            "");
  ASSERT_EQ(Check(Topic::kWeather,
                  Replace(kWeather, R"("airQualityIndex":98)", R"("airQualityIndex":499.9)")),
            "");
  ASSERT_EQ(Check(Topic::kWeather,
                  Replace(kWeather, R"("airQualityIndex":98)", R"("airQualityIndex":2e2)")),
            "");
  const Column& aqi = Raw(Topic::kWeather).column(kAirQualityIndex);
  ASSERT_EQ(aqi.size(), 5u);
  EXPECT_EQ(aqi.GetInt32(0), 98);  // rounded to the nearest integer
  EXPECT_EQ(aqi.GetInt32(1), 99);  // halves away from zero
  EXPECT_EQ(aqi.GetInt32(2), 0);
  EXPECT_EQ(aqi.GetInt32(3), 500);  // 499.9 is within 0..500; stored rounded
  EXPECT_EQ(aqi.GetInt32(4), 200);
  // The range applies to the value as written.
  EXPECT_EQ(Check(Topic::kWeather,
                  Replace(kWeather, R"("airQualityIndex":98)", R"("airQualityIndex":500.2)")),
            "field airQualityIndex: 500.2 is outside 0..500");
  EXPECT_EQ(Check(Topic::kWeather,
                  Replace(kWeather, R"("airQualityIndex":98)", R"("airQualityIndex":-0.3)")),
            "field airQualityIndex: -0.3 is outside 0..500");
  // Fields the SPEC types as integers stay integers.
  EXPECT_EQ(Check(Topic::kWeather, Replace(kWeather, "85", "85.0")),
            "field humidity: expected integer, got number 85");

  ASSERT_EQ(Check(Topic::kEmergency, Replace(kEmergency, R"("Fire")", R"("None")")), "");
  EXPECT_EQ(Raw(Topic::kEmergency).column(emergency_col::kType).GetString(0), "None");

  // A naive timestamp (Python's datetime.isoformat() of a local time) is read as UTC.
  ASSERT_EQ(Check(Topic::kVehicle,
                  Replace(kVehicle, "2026-01-05T07:00:00.167405Z", "2026-01-05T07:00:00.167405")),
            "");
  ASSERT_EQ(Check(Topic::kVehicle,
                  Replace(kVehicle, "2026-01-05T07:00:00.167405Z", "2026-01-05T07:00:00")),
            "");
  ASSERT_EQ(
      Check(Topic::kVehicle, Replace(kVehicle, R"J("(51.507424, -0.127842)")J", "[51.5, -0.12]")),
      "");
  const RecordBatch& v = Raw(Topic::kVehicle);
  EXPECT_EQ(v.column(vehicle_col::kTimestamp).GetInt64(0), 1'767'596'400'167'405LL);
  EXPECT_EQ(v.column(vehicle_col::kTimestamp).GetInt64(1), 1'767'596'400'000'000LL);
  EXPECT_DOUBLE_EQ(v.column(vehicle_col::kLatitude).GetDouble(2), 51.5);
  EXPECT_EQ(parser_.counters().dead_letters[static_cast<size_t>(Topic::kWeather)], 3u);
}

TEST_F(ParserTest, InvalidJsonNamesTheByte) {
  const std::string bad = Replace(kVehicle, R"("speed":14.40)", R"("speed":14.40.1)");
  const std::string reason = Check(Topic::kVehicle, bad);
  EXPECT_EQ(reason.rfind("invalid JSON at byte ", 0), 0u) << reason;
}

TEST_F(ParserTest, UnknownFieldsAreIgnored) {
  const std::string extra =
      Replace(kVehicle, R"("speed")", R"("extra":{"nested":[1,2,{"x":null}]},"speed")");
  EXPECT_EQ(Check(Topic::kVehicle, extra), "");
}

TEST_F(ParserTest, OversizePayloadIsADeadLetter) {
  std::string big = Replace(
      kVehicle, R"("fuelType")",
      "\"padding\":\"" + std::string(200000 - kVehicle.size() - 13, 'x') + "\",\"fuelType\"");
  ASSERT_EQ(big.size(), 200000u);
  EXPECT_EQ(Check(Topic::kVehicle, big), "payload of 200000 bytes exceeds the 65536-byte limit");
  using namespace dead_letter_col;
  EXPECT_EQ(dead_.column(kPayload).GetString(0), big) << "kept whole under the 1 MiB default cap";
  EXPECT_EQ(dead_.column(kPayloadBytes).GetInt64(0), 200000);
  EXPECT_FALSE(dead_.column(kPayloadTruncated).GetBool(0));
  EXPECT_EQ(dead_.column(kTopic).GetString(0), "vehicle_data");
  EXPECT_EQ(dead_.column(kPartition).GetInt32(0), 3);
  EXPECT_EQ(dead_.column(kOffset).GetInt64(0), 77);
  EXPECT_EQ(dead_.column(kReceivedAt).GetInt64(0), kReceived.time_since_epoch().count());
}

TEST(ParserOptionsTest, LimitsAndCapAreOptions) {
  ParserOptions o;
  o.max_payload_bytes = 100;
  o.dead_letter_payload_cap = 10;
  o.topic_names[Topic::kVehicle] = "cars";
  EventParser p(o);
  RecordBatch raw(RawSchema(Topic::kVehicle)), dead(DeadLetterSchema());
  EXPECT_FALSE(p.Parse(Topic::kVehicle, kVehicle, {}, kReceived, &raw, &dead));
  EXPECT_EQ(p.last_reason(),
            "payload of " + std::to_string(kVehicle.size()) + " bytes exceeds the 100-byte limit");
  using namespace dead_letter_col;
  EXPECT_EQ(dead.column(kPayload).GetString(0), kVehicle.substr(0, 10));
  EXPECT_TRUE(dead.column(kPayloadTruncated).GetBool(0));
  EXPECT_EQ(dead.column(kTopic).GetString(0), "cars");
  // A cut never splits a UTF-8 sequence.
  EXPECT_FALSE(p.Parse(Topic::kVehicle, "123456789\xc3\xa9", {}, kReceived, &raw, &dead));
  EXPECT_EQ(dead.column(kPayload).GetString(1), "123456789");
}

TEST_F(ParserTest, NonUtf8DeadLetterIsStoredAsBase64) {
  EXPECT_EQ(Check(Topic::kGps, std::string_view("\xff\xfe{}", 4)).rfind("invalid JSON", 0), 0u);
  using namespace dead_letter_col;
  EXPECT_EQ(dead_.column(kPayloadEncoding).GetString(0), "base64");
  EXPECT_EQ(dead_.column(kPayload).GetString(0), "//57fQ==");
  EXPECT_EQ(dead_.column(kPayloadBytes).GetInt64(0), 4);
  EXPECT_EQ(Check(Topic::kGps, "{oops"), Check(Topic::kGps, "{oops"));
  EXPECT_EQ(dead_.column(kPayloadEncoding).GetString(1), "utf-8");
  EXPECT_EQ(dead_.column(kPayload).GetString(1), "{oops");
}

TEST_F(ParserTest, EscapedStringsAreUnescaped) {
  EXPECT_EQ(Check(Topic::kVehicle, Replace(kVehicle, R"("Qashqai")", R"("Qash\"qai\u00e9")")), "");
  EXPECT_EQ(Raw(Topic::kVehicle).column(vehicle_col::kModel).GetString(0), "Qash\"qai\xc3\xa9");
}

// A Topic outside the five is a caller's bug or a corrupt source: the record still becomes a dead
// letter (never a silent drop), and no raw table is touched.
TEST_F(ParserTest, UnknownTopicIsADeadLetter) {
  RecordBatch raw(RawSchema(Topic::kVehicle));
  const Topic unknown = static_cast<Topic>(7);
  EXPECT_FALSE(parser_.Parse(unknown, kVehicle, SourcePosition{PartitionId(3), 77}, kReceived, &raw,
                             &dead_));
  EXPECT_EQ(parser_.last_reason(), "unknown topic 7");
  EXPECT_EQ(raw.num_rows(), 0u);
  ASSERT_EQ(dead_.num_rows(), 1u);
  EXPECT_EQ(dead_.column(dead_letter_col::kTopic).GetString(0), "#7");
  EXPECT_EQ(dead_.column(dead_letter_col::kPartition).GetInt32(0), 3);
  EXPECT_EQ(dead_.column(dead_letter_col::kOffset).GetInt64(0), 77);
  EXPECT_EQ(dead_.column(dead_letter_col::kPayload).GetString(0), kVehicle);
  EXPECT_EQ(dead_.column(dead_letter_col::kReason).GetString(0), "unknown topic 7");
  EXPECT_EQ(dead_.column(dead_letter_col::kReceivedAt).GetTimestamp(0), kReceived);
  EXPECT_EQ(parser_.counters().unknown_topic, 1u);
  for (Topic t : kAllTopics) EXPECT_EQ(parser_.counters().dead_letters[static_cast<size_t>(t)], 0u);
}

}  // namespace
}  // namespace smartcity::stream
