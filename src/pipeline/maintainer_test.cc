// The maintainer's policy (which partitions are compacted when) and its passes over a table that a
// stream keeps writing: open partitions stay at <= max_small_files files, closed ones end as one,
// log clean-up and vacuum run on the FakeClock, and the stream's txn versions survive.
#include "pipeline/maintainer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "lake/compaction.h"
#include "lake/delta_table.h"
#include "lake/parquet_writer.h"
#include "testing/files.h"

namespace smartcity::pipeline {
namespace {

constexpr int64_t kDayMicros = 86'400'000'000LL;
// 2026-01-05T00:00:00Z
constexpr int64_t kJan5 = 1767571200000000LL;

std::shared_ptr<const Schema> RowSchema() {
  auto s = std::make_shared<Schema>();
  s->columns = {{"date", LogicalType::kString, false},
                {"ts", LogicalType::kTimestamp, false},
                {"seq", LogicalType::kInt64, false}};
  return s;
}

TEST(ShouldCompactTest, OpenPartitionsWaitForManySmallFilesClosedOnesForTwo) {
  const lake::PartitionValues jan5{{"date", "2026-01-05"}}, jan6{{"date", "2026-01-06"}};
  // No watermark yet: only the count decides.
  EXPECT_FALSE(ShouldCompact(jan5, 15, "", 16));
  EXPECT_TRUE(ShouldCompact(jan5, 16, "", 16));
  // Watermark on Jan 6: Jan 5 is closed, Jan 6 is still written.
  EXPECT_TRUE(ShouldCompact(jan5, 2, "2026-01-06", 16));
  EXPECT_FALSE(ShouldCompact(jan5, 1, "2026-01-06", 16)) << "one file: nothing to merge";
  EXPECT_FALSE(ShouldCompact(jan6, 15, "2026-01-06", 16));
  EXPECT_TRUE(ShouldCompact(jan6, 16, "2026-01-06", 16));
  // A table without a date partition is compacted by count only.
  EXPECT_FALSE(ShouldCompact({{"hour", "3"}}, 15, "2026-01-06", 16));
  EXPECT_FALSE(ShouldCompact({{"date", std::nullopt}}, 3, "2026-01-06", 16));
}

TEST(MaintenanceOptionsTest, RetentionsAreChecked) {
  MaintenanceOptions o;
  EXPECT_TRUE(ValidateMaintenance(o).ok());
  o.log_retention = std::chrono::minutes(10);
  EXPECT_FALSE(ValidateMaintenance(o).ok()) << "log retention below the vacuum retention";
  o = MaintenanceOptions{};
  o.vacuum_retention = std::chrono::seconds(0);
  EXPECT_FALSE(ValidateMaintenance(o).ok());
  o = MaintenanceOptions{};
  o.max_small_files = 1;
  EXPECT_FALSE(ValidateMaintenance(o).ok());
}

class MaintainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = engine::Database::Open("", lake::WriterDatabaseOptions());
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    lake::TableOptions to;
    to.partitions = {lake::PartitionField::Identity("date")};
    to.scratch_dir = tmp_.path();
    auto t = lake::DeltaTable::Open(&store_, db_.get(), "t", RowSchema(), to);
    ASSERT_TRUE(t.ok()) << t.status().message();
    table_ = std::move(*t);
  }
  // One epoch: `n` rows on `day` (0 = Jan 5).
  void Commit(int day, int n) {
    RecordBatch b(RowSchema());
    for (int i = 0; i < n; ++i) {
      b.column(0).AppendString(FormatDate(kJan5 / kDayMicros + day));
      b.column(1).AppendInt64(kJan5 + day * kDayMicros + seq_ * 1000);
      b.column(2).AppendInt64(++seq_);
    }
    ASSERT_TRUE(table_->Append(b).ok());
    ASSERT_TRUE(table_->Commit("q-p0", ++epoch_).ok());
  }
  std::map<std::string, int> FilesPerDate() {
    lake::DeltaLog log(&store_, "t");
    auto conn = db_->Connect();
    EXPECT_TRUE(conn.ok());
    auto snap = log.Load(conn->get());
    EXPECT_TRUE(snap.ok());
    std::map<std::string, int> n;
    for (const auto& [path, f] : snap->files) ++n[*f.partition_values.at("date")];
    EXPECT_EQ(snap->NumRecords(), seq_) << "maintenance changed the rows";
    EXPECT_EQ(snap->TxnVersion("q-p0"), epoch_) << "maintenance changed the stream's txn";
    return n;
  }
  MaintenanceOptions Options() {
    MaintenanceOptions o;
    o.enabled = true;
    o.background = false;
    o.max_small_files = 4;
    o.scratch_dir = tmp_.path();
    return o;
  }

  lake::InMemoryObjectStore store_;
  std::unique_ptr<engine::Database> db_;
  test::TempDir tmp_{"smartcity-maintainer-test"};
  std::unique_ptr<lake::DeltaTable> table_;
  FakeClock clock_{WallClock::now() - std::chrono::minutes(1)};
  int64_t seq_ = 0;
  int64_t epoch_ = 0;
};

TEST_F(MaintainerTest, OpenPartitionsStayBelowTheCapAndClosedOnesEndAsOneFile) {
  auto m = Maintainer::Open(&store_, db_.get(), {"t", "missing"}, Options(), &clock_);
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (int i = 0; i < 30; ++i) {
    Commit(0, 5);
    ASSERT_TRUE((*m)->RunPass().ok());
    EXPECT_LE(FilesPerDate()["2026-01-05"], 4) << "after epoch " << i;
  }
  EXPECT_GT((*m)->counters().compactions, 0u);
  EXPECT_GT((*m)->counters().bytes_compacted, 0u);
  EXPECT_GT((*m)->counters().bytes_written, 0u);
  // The stream moves on to Jan 6; while the watermark is on Jan 5, Jan 5 stays open.
  Commit(1, 5);
  Commit(1, 5);
  int jan5 = FilesPerDate()["2026-01-05"];
  for (; jan5 < 2; ++jan5) Commit(0, 5);
  (*m)->SetLowWatermark(EventTime(Micros(kJan5 + 12 * 3'600'000'000LL)));
  ASSERT_TRUE((*m)->RunPass().ok());
  EXPECT_EQ(FilesPerDate()["2026-01-05"], jan5);
  // The watermark passes midnight: Jan 5 is closed and compacted into one file, Jan 6 is not.
  (*m)->SetLowWatermark(EventTime(Micros(kJan5 + kDayMicros + 60'000'000LL)));
  ASSERT_TRUE((*m)->RunPass().ok());
  auto files = FilesPerDate();
  EXPECT_EQ(files["2026-01-05"], 1);
  EXPECT_EQ(files["2026-01-06"], 2);
  // End of input: everything is closed.
  ASSERT_TRUE((*m)->RunPass(/*final=*/true).ok());
  EXPECT_EQ(FilesPerDate()["2026-01-06"], 1);
  EXPECT_EQ((*m)->counters().errors, 0u);
}

// Compaction writes row groups that fit in its DuckDB's memory limit (over it, DuckDB evicts and
// re-reads buffers, which cost more than the rewrite itself).
TEST(CompactionRowGroupRowsTest, SizedFromTheMemoryLimitInWholeVectors) {
  EXPECT_EQ(lake::CompactionRowGroupRows(0), 122'880u) << "no limit: DuckDB's default";
  EXPECT_EQ(lake::CompactionRowGroupRows(48ull << 20), 30'720u) << "run's default share";
  EXPECT_EQ(lake::CompactionRowGroupRows(128ull << 20), 81'920u);
  EXPECT_EQ(lake::CompactionRowGroupRows(1ull << 30), 122'880u);
  EXPECT_EQ(lake::CompactionRowGroupRows(1ull << 20), 10'240u) << "never below five vectors";
}

TEST_F(MaintainerTest, CompactionRowGroupsFitTheMemoryLimit) {
  MaintenanceOptions o = Options();
  o.memory_bytes = 16ull << 20;  // 10,240-row groups
  auto m = Maintainer::Open(&store_, db_.get(), {"t"}, o, &clock_);
  ASSERT_TRUE(m.ok());
  for (int i = 0; i < 3; ++i) Commit(0, 9000);
  ASSERT_TRUE((*m)->RunPass(/*final=*/true).ok());
  lake::DeltaLog log(&store_, "t");
  auto conn = db_->Connect();
  ASSERT_TRUE(conn.ok());
  auto snap = log.Load(conn->get());
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->files.size(), 1u);
  auto bytes = store_.Get("t/" + snap->files.begin()->first);
  ASSERT_TRUE(bytes.ok());
  const std::string local = (tmp_.path() / "compacted.parquet").string();
  std::ofstream(local, std::ios::binary) << *bytes;
  auto groups = (*conn)->Query(
      "SELECT row_group_id, any_value(row_group_num_rows) FROM "
      "parquet_metadata(" +
      engine::QuoteLiteral(local) + ") GROUP BY 1 ORDER BY 1");
  ASSERT_TRUE(groups.ok()) << groups.status().message();
  // DuckDB closes a row group at the first input chunk that reaches the size: up to one more
  // vector. Without the sizing, the 27,000 rows are one row group.
  EXPECT_EQ(groups->row_count(), 3u);
  for (size_t g = 0; g < groups->row_count(); ++g)
    EXPECT_LE(groups->GetInt64(1, g), 10'240 + 2'048) << "row group " << g;
}

// `run`'s maintenance: a DuckDB of its own, opened for each table's turn and closed after it
// (DuckDB 1.4 keeps a little of every file read in a long-lived database). Each pass compacts on a
// fresh one.
TEST_F(MaintainerTest, AnOwnDatabaseServesEachPass) {
  MaintenanceOptions o = Options();
  o.own_database = lake::WriterDatabaseOptions();
  o.memory_bytes = 48ull << 20;
  auto m = Maintainer::Open(&store_, nullptr, {"t"}, o, &clock_);
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (int pass = 1; pass <= 3; ++pass) {
    for (int i = 0; i < 3; ++i) Commit(0, 100);
    ASSERT_TRUE((*m)->RunPass(/*final=*/true).ok()) << "pass " << pass;
    lake::DeltaLog log(&store_, "t");
    auto conn = db_->Connect();
    ASSERT_TRUE(conn.ok());
    auto snap = log.Load(conn->get());
    ASSERT_TRUE(snap.ok());
    EXPECT_EQ(snap->files.size(), 1u) << "pass " << pass;
    EXPECT_EQ(snap->NumRecords(), pass * 300) << "pass " << pass;
  }
  EXPECT_EQ((*m)->counters().compactions, 3u);
  EXPECT_EQ((*m)->counters().errors, 0u);
}

TEST_F(MaintainerTest, CleansTheLogAndVacuumsAfterTheirRetentions) {
  MaintenanceOptions o = Options();
  o.vacuum_retention = std::chrono::minutes(10);
  o.log_retention = std::chrono::minutes(10);
  o.interval = std::chrono::seconds(10);
  auto m = Maintainer::Open(&store_, db_.get(), {"t"}, o, &clock_);
  ASSERT_TRUE(m.ok());
  size_t most_log = 0, most_data = 0;
  for (int i = 0; i < 200; ++i) {
    Commit(0, 5);
    ASSERT_TRUE((*m)->RunPass().ok());
    clock_.Advance(std::chrono::seconds(10));
    auto all = store_.List("t/");
    ASSERT_TRUE(all.ok());
    size_t log = 0, data = 0;
    for (const auto& obj : *all) (obj.key.find("_delta_log") != std::string::npos ? log : data)++;
    // Writes get the real time; the fake clock runs ahead of it, 10 s a commit.
    most_log = std::max(most_log, log);
    most_data = std::max(most_data, data);
  }
  const MaintenanceCounters c = (*m)->counters();
  EXPECT_GT(c.log_entries_deleted, 0u);
  EXPECT_GT(c.files_vacuumed, 0u);
  EXPECT_EQ(c.errors, 0u);
  // 200 commits plus the compactions' would be over 250 log objects and 200 data files.
  EXPECT_LT(most_log, 150u);
  EXPECT_LT(most_data, 120u);
  FilesPerDate();
}

// `run` gives the maintainer and its warehouse loader one lock, so that their DuckDB working sets
// never add up: a pass waits while the loader holds it.
TEST_F(MaintainerTest, APassWaitsForTheLockItSharesWithTheWarehouseLoader) {
  Mutex shared;
  MaintenanceOptions o = Options();
  o.exclusive = &shared;
  auto m = Maintainer::Open(&store_, db_.get(), {"t"}, o, &clock_);
  ASSERT_TRUE(m.ok());
  for (int i = 0; i < 6; ++i) Commit(0, 5);  // over max_small_files: the pass compacts
  std::atomic<bool> done{false};
  shared.Lock();
  std::thread pass([&] {
    EXPECT_TRUE((*m)->RunPass().ok());
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(done) << "the pass ran while the loader held the lock";
  EXPECT_EQ(FilesPerDate()["2026-01-05"], 6);
  shared.Unlock();
  pass.join();
  EXPECT_TRUE(done);
  EXPECT_LE(FilesPerDate()["2026-01-05"], 4);
}

}  // namespace
}  // namespace smartcity::pipeline
