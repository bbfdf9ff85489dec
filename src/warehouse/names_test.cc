#include "warehouse/names.h"

#include <gtest/gtest.h>

#include <set>

#include "model/schema.h"

namespace smartcity::warehouse {
namespace {

TEST(NamesTest, CamelCaseBecomesSnakeCase) {
  EXPECT_EQ(WarehouseColumnName("deviceId"), "device_id");
  EXPECT_EQ(WarehouseColumnName("airQualityIndex"), "air_quality_index");
  EXPECT_EQ(WarehouseColumnName("_vehiclePartition"), "_vehicle_partition");
  EXPECT_EQ(WarehouseColumnName("speed"), "speed");
  EXPECT_EQ(WarehouseColumnName("already_snake"), "already_snake");
  // Acronyms: one word, and a boundary before the word that follows.
  EXPECT_EQ(WarehouseColumnName("GPSSpeed"), "gps_speed");
  EXPECT_EQ(WarehouseColumnName("vehicleID"), "vehicle_id");
  EXPECT_EQ(WarehouseColumnName("pm25Level"), "pm25_level");
  EXPECT_EQ(WarehouseColumnName("Speed"), "speed");
}

TEST(NamesTest, OtherCharactersDigitsAndEmptyNames) {
  EXPECT_EQ(WarehouseColumnName("wind speed (km/h)"), "wind_speed__km_h_");
  EXPECT_EQ(WarehouseColumnName("grüße"), "gr____e");  // UTF-8 bytes are not letters a-z
  EXPECT_EQ(WarehouseColumnName("2ndReading"), "_2nd_reading");
  EXPECT_EQ(WarehouseColumnName(""), "_");
  EXPECT_EQ(WarehouseColumnName(std::string(100, 'a')).size(), 63u);
}

TEST(NamesTest, ReservedWordsOfPostgresAndRedshiftGetAnUnderscore) {
  // PostgreSQL reserves offset and user (which would silently read the session's user), Redshift
  // timestamp, partition and snapshot.
  for (const char* w : {"offset", "user", "timestamp", "partition", "snapshot", "order", "from",
                        "Timestamp", "OFFSET"}) {
    const std::string name = WarehouseColumnName(w);
    EXPECT_EQ(name.back(), '_') << w;
    EXPECT_FALSE(IsReservedWord(name)) << w;
  }
  for (const char* w : {"date", "type", "status", "year", "model", "topic", "speed", "id"}) {
    EXPECT_EQ(WarehouseColumnName(w), w);
    EXPECT_FALSE(IsReservedWord(w)) << w;
  }
  EXPECT_FALSE(IsReservedWord("off set"));
  EXPECT_FALSE(IsReservedWord(""));
  EXPECT_FALSE(IsReservedWord("offs"));
}

TEST(NamesTest, CollisionsInOneTableGetANumber) {
  EXPECT_EQ(WarehouseColumnNames({"deviceId", "device_id", "DeviceId", "speed"}),
            (std::vector<std::string>{"device_id", "device_id_2", "device_id_3", "speed"}));
  const std::vector<std::string> long_names = {std::string(70, 'x'), std::string(64, 'x')};
  const auto names = WarehouseColumnNames(long_names);
  EXPECT_EQ(names[0], std::string(63, 'x'));
  EXPECT_EQ(names[1], std::string(61, 'x') + "_2");
}

// Every column of our tables gets a name that is a plain lower-case identifier, unique in its
// table, and no reserved word: usable unquoted.
TEST(NamesTest, EveryColumnOfOurTablesIsUsableUnquoted) {
  for (size_t t = 0; t < model::kTableCount; ++t) {
    std::vector<std::string> lake;
    for (const ColumnSpec& c : model::SchemaOf(static_cast<model::Table>(t))->columns)
      lake.push_back(c.name);
    const std::vector<std::string> names = WarehouseColumnNames(lake);
    std::set<std::string> seen;
    for (const std::string& n : names) {
      ASSERT_FALSE(n.empty());
      EXPECT_TRUE(n.front() == '_' || (n.front() >= 'a' && n.front() <= 'z')) << n;
      for (char ch : n) {
        EXPECT_TRUE(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) << n;
      }
      EXPECT_FALSE(IsReservedWord(n)) << n;
      EXPECT_TRUE(seen.insert(n).second) << n;
    }
  }
}

}  // namespace
}  // namespace smartcity::warehouse
