// The progress and summary lines of `run` and `stream`, from counters alone.
#include "cli/progress.h"

#include <gtest/gtest.h>

namespace smartcity::cli {
namespace {

using stream::OutputTable;

TEST(ProgressTest, CountsAbbreviateOnlyLargeNumbers) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(9'999), "9999");
  EXPECT_EQ(FormatCount(10'000), "10k");
  EXPECT_EQ(FormatCount(9'999'999), "9999k");
  EXPECT_EQ(FormatCount(12'345'678), "12M");
}

struct Fixture {
  Fixture() {
    counters.records = 123'456;
    counters.epochs_committed = 7;
    counters.rows[static_cast<size_t>(OutputTable::kEnriched)] = 40'000;
    counters.rows[static_cast<size_t>(OutputTable::kVehicle)] = 41'000;
    counters.rows[static_cast<size_t>(OutputTable::kDeadLetters)] = 3;
    counters.rows[static_cast<size_t>(OutputTable::kLateEvents)] = 2;
    groups = {{0, 7, EventTime{}, false}, {1, 6, EventTime{}, false}};
    step.counters = &counters;
    step.groups = groups;
    step.records_behind = 25'000;
    report.step = &step;
    report.events_per_s = 5400.4;
    report.watermark = *ParseTimestamp("2026-01-05T07:12:20Z");
  }
  pipeline::ProcessorCounters counters;
  std::vector<pipeline::Processor::GroupStatus> groups;
  pipeline::DriveStep step;
  pipeline::DriveReport report;
};

TEST(ProgressTest, RunLineShowsCityTimeRateRowsAndWatermark) {
  Fixture f;
  EXPECT_EQ(FormatRunProgress(f.report, *ParseTimestamp("2026-01-05T07:12:30.5Z")),
            "run 2026-01-05T07:12:30 | 123456 events 5400/s | epochs 7 | lake rows: enriched "
            "40000, vehicle 41000, dead letters 3, late 2 | watermark 07:12:20");
  f.report.watermark.reset();
  EXPECT_NE(FormatRunProgress(f.report, EventTime{}).find("| watermark -"), std::string::npos);
}

TEST(ProgressTest, StreamLineShowsLagGroupsAndLatency) {
  Fixture f;
  f.counters.live_latency.Record(std::chrono::milliseconds(12));
  const std::string line = FormatStreamProgress(f.report);
  EXPECT_EQ(line.substr(0, line.find(" | live p99")),
            "stream | 123k events 5400/s | lag 25k | 2 partition groups | epochs 7 | watermark "
            "07:12:20 | lake rows: enriched 40k, dead letters 3, late 2");
  EXPECT_NE(line.find("| live p99 12ms"), std::string::npos) << line;
}

TEST(ProgressTest, StreamLineSaysWhenTheLagIsUnknown) {
  Fixture f;
  // The cluster cannot be reached: the records behind are a lower bound, not a lag of 0.
  f.step.records_behind = 0;
  f.step.lag_known = false;
  const std::string line = FormatStreamProgress(f.report);
  EXPECT_NE(line.find("| lag ? |"), std::string::npos) << line;
}

TEST(ProgressTest, TableRowsListEveryOutputTableOnce) {
  Fixture f;
  const std::string rows = FormatTableRows(f.counters);
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'),
            static_cast<long>(stream::kOutputTableCount));
  for (size_t i = 0; i < stream::kOutputTableCount; ++i) {
    EXPECT_NE(rows.find(std::string(stream::OutputTableName(static_cast<OutputTable>(i)))),
              std::string::npos);
  }
  EXPECT_NE(rows.find("  enriched_data           40000 rows committed\n"), std::string::npos)
      << rows;
}

TEST(ProgressTest, WarehouseLagInCommitsAndTime) {
  const WallTime now = FakeClock::kDefaultWallStart;
  warehouse::LoadLag lag;
  lag.tables.push_back({"enriched_data", true, 10, 10, std::nullopt});
  EXPECT_EQ(FormatWarehouseLag(lag, now, false), "warehouse lag 0 commits");
  lag.tables[0].loaded_version = 7;
  lag.tables[0].oldest_pending = now - std::chrono::milliseconds(12'400);
  EXPECT_EQ(FormatWarehouseLag(lag, now, false), "warehouse lag 3 commits 12s");
  lag.tables.push_back({"vehicle_data", true, 4, 3, now - std::chrono::seconds(125)});
  EXPECT_EQ(FormatWarehouseLag(lag, now, false), "warehouse lag 4 commits 2m5s");
  lag.tables.resize(1);
  lag.tables[0].loaded_version = 9;
  lag.retrying = "warehouse down";
  EXPECT_EQ(FormatWarehouseLag(lag, now, false),
            "warehouse lag 1 commit 12s (retrying: warehouse down)");
  lag.tables[0].known = false;
  EXPECT_EQ(FormatWarehouseLag(lag, now, false),
            "warehouse lag unknown (retrying: warehouse down)");
  EXPECT_EQ(FormatWarehouseLag(std::nullopt, now, false), "warehouse lag unknown");
  EXPECT_EQ(FormatWarehouseLag(lag, now, true), "warehouse loader stopped");
}

}  // namespace
}  // namespace smartcity::cli
