#include "common/time.h"

#include <gtest/gtest.h>

namespace smartcity {
namespace {

TEST(TimeTest, FormatsWithMicrosecondsAndZ) {
  EXPECT_EQ(FormatTimestamp(EventTime(Micros(0))), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTimestamp(EventTime(Micros(1'795'255'245'123'456LL))),
            "2026-11-21T10:00:45.123456Z");
}

TEST(TimeTest, ParseRoundTripsAndAcceptsZones) {
  auto t = ParseTimestamp("2026-11-21T10:00:45.123456Z");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(FormatTimestamp(*t), "2026-11-21T10:00:45.123456Z");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("2026-11-21 11:00:45.1+01:00")),
            "2026-11-21T10:00:45.100000Z");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("2026-11-21T10:00:45")), "2026-11-21T10:00:45.000000Z");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("2024-02-29T23:59:59.9999999-0030")),
            "2024-03-01T00:29:59.999999Z");
}

TEST(TimeTest, ParseRejectsGarbage) {
  for (const char* s :
       {"", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
        "2026-11-21T24:00:00Z", "2026-11-21T10:00:45.Z", "2026-11-21T10:00:45Zjunk", "now"}) {
    EXPECT_FALSE(ParseTimestamp(s).ok()) << s;
  }
}

TEST(TimeTest, Durations) {
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*ParseDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*ParseDuration("10"), std::chrono::seconds(10));
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("1x").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_EQ(FormatDuration(std::chrono::minutes(90)), "1h30m");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(150)), "150ms");
  EXPECT_EQ(*ParseDuration(FormatDuration(std::chrono::seconds(3725))), std::chrono::seconds(3725));
}

TEST(TimeTest, CivilDaysRoundTrip) {
  for (int64_t z = -800000; z < 800000; z += 997) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(z, &y, &m, &d);
    EXPECT_EQ(DaysFromCivil(y, m, d), z);
  }
}

TEST(TimeTest, FormatsDates) {
  EXPECT_EQ(FormatDate(0), "1970-01-01");
  EXPECT_EQ(FormatDate(20458), "2026-01-05");
  EXPECT_EQ(FormatDate(-1), "1969-12-31");
  EXPECT_EQ(FormatDate(DaysFromCivil(2024, 2, 29)), "2024-02-29");
}

}  // namespace
}  // namespace smartcity
