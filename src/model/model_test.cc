#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/schema.h"

namespace smartcity::model {
namespace {

std::vector<std::string> NamesOf(Table t) {
  std::vector<std::string> out;
  for (const ColumnDef& c : Columns(t)) out.emplace_back(c.name);
  return out;
}

TEST(ModelTest, RawTablesHoldTheTopicFieldsThenProvenance) {
  EXPECT_EQ(NamesOf(Table::kVehicle),
            (std::vector<std::string>{"id", "deviceId", "timestamp", "latitude", "longitude",
                                      "speed", "direction", "make", "model", "year", "fuelType",
                                      "_partition", "_offset", "date"}));
  EXPECT_EQ(NamesOf(Table::kGps),
            (std::vector<std::string>{"id", "deviceId", "timestamp", "speed", "direction",
                                      "vehicleType", "_partition", "_offset", "date"}));
  EXPECT_EQ(NamesOf(Table::kTraffic),
            (std::vector<std::string>{"id", "deviceId", "cameraId", "latitude", "longitude",
                                      "timestamp", "snapshot", "_partition", "_offset", "date"}));
  EXPECT_EQ(
      NamesOf(Table::kWeather),
      (std::vector<std::string>{"id", "deviceId", "latitude", "longitude", "timestamp",
                                "temperature", "weatherCondition", "precipitation", "windSpeed",
                                "humidity", "airQualityIndex", "_partition", "_offset", "date"}));
  EXPECT_EQ(NamesOf(Table::kEmergency),
            (std::vector<std::string>{"id", "deviceId", "incidentId", "type", "timestamp",
                                      "latitude", "longitude", "status", "description",
                                      "_partition", "_offset", "date"}));
  for (Topic t : kAllTopics) {
    const Table table = TableOf(t);
    EXPECT_EQ(TableName(table), DefaultTopicName(t));
    EXPECT_EQ(ColumnName(table, ColumnWithRole(table, Role::kKey)), "deviceId");
    EXPECT_EQ(ColumnName(table, ColumnWithRole(table, Role::kEventTime)), "timestamp");
    const int n = static_cast<int>(Columns(table).size());
    EXPECT_EQ(ColumnWithRole(table, Role::kPartition), n - 3);
    EXPECT_EQ(ColumnWithRole(table, Role::kOffset), n - 2);
    EXPECT_EQ(ColumnWithRole(table, Role::kDate), n - 1);
  }
}

TEST(ModelTest, SchemasCarryTypesAndNullability) {
  const Schema& v = *SchemaOf(Table::kVehicle);
  EXPECT_EQ(v.columns[vehicle_col::kTimestamp].type, LogicalType::kTimestamp);
  EXPECT_EQ(v.columns[vehicle_col::kYear].type, LogicalType::kInt32);
  EXPECT_EQ(v.columns[vehicle_col::kOffset].type, LogicalType::kInt64);
  for (const ColumnSpec& c : v.columns) EXPECT_FALSE(c.nullable) << c.name;

  const Schema& e = *SchemaOf(Table::kEnriched);
  ASSERT_EQ(e.columns.size(), static_cast<size_t>(enriched_col::kCount));
  EXPECT_EQ(e.columns[enriched_col::kEmergencyType].name, "emergencyType");
  EXPECT_TRUE(e.columns[enriched_col::kEmergencyType].nullable);
  EXPECT_TRUE(e.columns[enriched_col::kIncidentId].nullable);
  EXPECT_TRUE(e.columns[enriched_col::kEmergencyOffset].nullable);
  EXPECT_FALSE(e.columns[enriched_col::kWeatherOffset].nullable);
  EXPECT_EQ(e.columns[enriched_col::kHumidity].type, LogicalType::kInt32);

  EXPECT_EQ(SchemaOf(Table::kDeadLetters)->columns[dead_letter_col::kPayloadTruncated].type,
            LogicalType::kBool);
  EXPECT_EQ(SchemaOf(Table::kLateEvents)->columns[late_event_col::kEventTime].name, "eventTime");
  EXPECT_EQ(SchemaOf(Table::kVehicle).get(), SchemaOf(Table::kVehicle).get());  // built once
}

TEST(ModelTest, JsonFieldsFollowTheRawTable) {
  EXPECT_EQ(JsonFieldCount(Topic::kVehicle), 10u);
  EXPECT_EQ(JsonFieldCount(Topic::kGps), 6u);
  EXPECT_EQ(JsonFieldCount(Topic::kTraffic), 6u);
  EXPECT_EQ(JsonFieldCount(Topic::kWeather), 10u);
  EXPECT_EQ(JsonFieldCount(Topic::kEmergency), 8u);

  constexpr auto w = JsonFieldsOf<Topic::kWeather>();
  EXPECT_EQ(w[2].name, "location");
  EXPECT_EQ(w[2].wire, Wire::kLocation);
  EXPECT_EQ(w[2].column, weather_col::kLatitude);
  EXPECT_EQ(w[5].name, "weatherCondition");
  ASSERT_EQ(w[5].values.size(), 5u);
  EXPECT_EQ(w[5].values[4], "Fog");
  EXPECT_EQ(w[8].name, "humidity");
  EXPECT_EQ(w[8].max, 100);
  EXPECT_TRUE(w[8].is_number());
  EXPECT_FALSE(w[3].is_number());  // timestamp
  static_assert(JsonFieldIndex<Topic::kWeather>(weather_col::kLongitude) == -1);
  static_assert(JsonFieldIndex<Topic::kWeather>(weather_col::kTimestamp) == 3);
}

TEST(ModelTest, QuotedKeysAreBuiltAtCompileTime) {
  using K = QuotedJsonKeys<Topic::kVehicle>;
  static_assert(K::kKeys[0] == "\"id\":");
  static_assert(K::kKeys[3] == "\"location\":");
  EXPECT_EQ(K::kKeys[9], "\"fuelType\":");
  EXPECT_EQ(QuotedJsonKeys<Topic::kEmergency>::kKeys[7], "\"description\":");
}

TEST(ModelTest, NamesAndEnumValues) {
  for (size_t i = 0; i < kTableCount; ++i) {
    const auto t = static_cast<Table>(i);
    ASSERT_TRUE(TableFromName(TableName(t)).has_value());
    EXPECT_EQ(*TableFromName(TableName(t)), t);
  }
  EXPECT_FALSE(TableFromName("events").has_value());
  EXPECT_EQ(kEnrichedTable, "enriched_data");
  EXPECT_EQ(kDeadLettersTable, "_dead_letters");
  EXPECT_EQ(kLateEventsTable, "_late_events");
  EXPECT_EQ(TopicEnvVar(Topic::kEmergency), "EMERGENCY_TOPIC");
  EXPECT_EQ(TopicFromDefaultName("gps_data"), Topic::kGps);
  EXPECT_EQ(NameOf(WeatherCondition::kSnow), "Snow");
  EXPECT_EQ(NameOf(EmergencyType::kMedical), "Medical");
  EXPECT_EQ(NameOf(EmergencyStatus::kResolved), "Resolved");
  EXPECT_EQ(Def(Table::kVehicle).join, JoinRole::kDriving);
  EXPECT_EQ(Def(Table::kWeather).join, JoinRole::kInner);
  EXPECT_EQ(Def(Table::kEmergency).join, JoinRole::kLeftOuter);
  EXPECT_TRUE(Def(Table::kLateEvents).identity.empty());
  ASSERT_EQ(Def(Table::kDeadLetters).identity.size(), 3u);
}

}  // namespace
}  // namespace smartcity::model
