// The loader against a real PostgreSQL (scripts/postgres.sh starts Debian's server on loopback for
// this test binary and stops it at the end) and a DuckDB warehouse file: schema evolution (a new
// lake column appears, a breaking change is refused) and exactly-once with the session cut at every
// step of a load.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "lake/delta_table.h"
#include "testing/files.h"
#include "testing/subprocess.h"
#include "warehouse/duckdb_warehouse.h"
#include "warehouse/loader.h"
#include "warehouse/postgres_warehouse.h"
#include "warehouse/warehouse_testutil.h"

namespace smartcity::warehouse {
namespace {

namespace fs = std::filesystem;
using testing::CommitEvents;
using testing::FaultPlan;

// Starts the server on first use (ctest runs each test in its own process: the DuckDB cases need
// no server) and stops it when the process ends.
class PostgresEnv : public ::testing::Environment {
 public:
  static const std::string& Url() {
    if (url_.empty()) {
      dir_ = fs::temp_directory_path() / ("warehouse_itest_pg_" + std::to_string(::getpid()));
      std::string out = Script("start");
      auto pos = out.find("SMARTCITY_PG_URL=");
      if (pos != std::string::npos) {
        url_ = out.substr(pos + 17);
        url_ = url_.substr(0, url_.find('\n'));
      }
    }
    return url_;
  }
  void TearDown() override {
    if (!dir_.empty()) Script("stop");
  }

 private:
  // Runs scripts/postgres.sh `command` for the cluster in dir_ (which the script creates and, on
  // stop, removes); its stdout, or "" when it failed (the reason on stderr).
  static std::string Script(const std::string& command) {
    auto r = test::RunProcess(
        {"bash", std::string(SMARTCITY_SOURCE_DIR) + "/scripts/postgres.sh", command},
        {.env = {{"SMARTCITY_PG_DIR", dir_.string()}}, .timeout = std::chrono::minutes(10)});
    if (r.ok() && r->exit_code == 0) return r->out;
    const std::string why = r.ok() ? r->status.ToString() + "\n" + r->err : r.status().message();
    std::fprintf(stderr, "scripts/postgres.sh %s failed: %s\n", command.c_str(), why.c_str());
    return "";
  }
  static inline std::string url_;
  static inline fs::path dir_;
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PostgresEnv);

class WarehouseITest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto s = lake::LocalObjectStore::Open(dir_ / "lake");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    auto db = engine::Database::Open("");
    ASSERT_TRUE(db.ok());
    lake_db_ = std::move(*db);
    NewWarehouse();
  }

  // A fresh, empty warehouse: a new PostgreSQL database, or a new DuckDB file.
  void NewWarehouse() {
    static int n = 0;
    ++n;
    if (GetParam() == "postgres") {
      ASSERT_FALSE(PostgresEnv::Url().empty()) << "scripts/postgres.sh start failed";
      auto admin = OpenPostgresWarehouse(PostgresEnv::Url());
      ASSERT_TRUE(admin.ok()) << admin.status().message();
      const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(n);
      ASSERT_TRUE((*admin)->Execute("CREATE DATABASE " + name).ok());
      spec_ = PostgresEnv::Url().substr(0, PostgresEnv::Url().rfind('/') + 1) + name;
    } else {
      spec_ = "duckdb:" + (dir_ / ("w" + std::to_string(n) + ".duckdb")).string();
    }
  }

  std::unique_ptr<Loader> MakeLoader(FaultPlan* plan, int64_t rows_per_txn = 500'000,
                                     bool rename_columns = false) {
    LoaderOptions o;
    o.tables = {"events"};
    o.rename_columns = rename_columns;
    o.rows_per_transaction = rows_per_txn;
    o.retry_for = std::chrono::milliseconds(0);
    const std::string spec = spec_;
    auto l = Loader::Create(
        store_.get(),
        [spec, plan]() -> Result<std::unique_ptr<WarehouseConnection>> {
          SC_ASSIGN_OR_RETURN(auto c, OpenWarehouse(spec));
          if (plan != nullptr) return testing::WrapFaulty(std::move(c), plan);
          return c;
        },
        o);
    EXPECT_TRUE(l.ok());
    return std::move(*l);
  }

  // "offset|note" of every warehouse row, ordered by offset.
  std::vector<std::string> Rows(bool with_note) {
    auto c = OpenWarehouse(spec_);
    EXPECT_TRUE(c.ok()) << c.status().message();
    auto r = (*c)->Query(std::string("SELECT CAST(\"_offset\" AS TEXT) AS o, ") +
                         (with_note ? "\"note\"" : "NULL") + " FROM events ORDER BY \"_offset\"");
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::vector<std::string> out;
    for (auto& row : *r) out.push_back(*row[0] + "|" + row[1].value_or("-"));
    return out;
  }
  static std::vector<std::string> Expected(int64_t n, int64_t note_from) {
    std::vector<std::string> out;
    for (int64_t i = 1; i <= n; ++i) {
      out.push_back(std::to_string(i) + "|" +
                    (i >= note_from && i % 2 == 0 ? "n" + std::to_string(i) : "-"));
    }
    return out;
  }

  test::TempDir tmp_{"warehouse_itest"};
  const fs::path dir_ = tmp_.path();
  std::unique_ptr<lake::LocalObjectStore> store_;
  std::unique_ptr<engine::Database> lake_db_;
  std::string spec_;
};

TEST_P(WarehouseITest, NewLakeColumnAppearsInTheWarehouse) {
  // (Each loader is closed before Rows() opens the warehouse: a DuckDB file has one user at a
  // time.)
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 10, false, 1);
  ASSERT_TRUE(MakeLoader(nullptr)->LoadOnce().ok());
  EXPECT_EQ(Rows(false).size(), 10u);
  CommitEvents(store_.get(), lake_db_.get(), "events", 11, 10, true, 2);
  Status s = MakeLoader(nullptr)->LoadOnce();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Rows(true), Expected(20, 11));
}

// The warehouse's column names are usable unquoted (PostgreSQL folds unquoted names to lower
// case); a table created with the lake's quoted names keeps loading and is renamed on request,
// with the indexes the loader made.
TEST_P(WarehouseITest, ColumnNamesAreUsableUnquotedAndOldTablesAreRenamed) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 10, false, 1);
  ASSERT_TRUE(MakeLoader(nullptr)->LoadOnce().ok());
  const std::string unquoted =
      "SELECT device_id, timestamp_, speed, _partition, _offset, date FROM events WHERE _offset "
      "= 3";
  {
    auto c = OpenWarehouse(spec_);
    ASSERT_TRUE(c.ok());
    auto r = (*c)->Query(unquoted);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0][0], "dev-0\t\\x");
    // The old table, as the loader created it before the warehouse names.
    ASSERT_TRUE((*c)->Execute("DROP TABLE events").ok());
    ASSERT_TRUE((*c)->Execute("DELETE FROM _smartcity_loads").ok());
    const Schema lake_named = *testing::EventSchema(false);
    const TableLayout layout = LayoutFor("events", lake_named);
    for (const std::string& sql :
         (*c)->dialect().CreateTable("events", lake_named, layout.key, layout.indexes)) {
      ASSERT_TRUE((*c)->Execute(sql).ok()) << sql;
    }
  }
  ASSERT_TRUE(MakeLoader(nullptr)->LoadOnce().ok());
  {
    auto c = OpenWarehouse(spec_);
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE((*c)->Query(unquoted).ok()) << "still the lake's names";
    auto r = (*c)->Query("SELECT count(*) FROM events WHERE \"deviceId\" IS NOT NULL");
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ((*r)[0][0], "10");
  }
  CommitEvents(store_.get(), lake_db_.get(), "events", 11, 10, true, 2);
  Status s = MakeLoader(nullptr, 500'000, /*rename_columns=*/true)->LoadOnce();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Rows(true), Expected(20, 11));
  auto c = OpenWarehouse(spec_);
  ASSERT_TRUE(c.ok());
  auto r = (*c)->Query(unquoted);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  if (GetParam() == "postgres") {
    auto idx = (*c)->Query(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'events' AND indexname LIKE '%_idx' "
        "ORDER BY 1");
    ASSERT_TRUE(idx.ok()) << idx.status().message();
    ASSERT_EQ(idx->size(), 2u);
    EXPECT_EQ((*idx)[0][0], "events_device_id_idx");
    EXPECT_EQ((*idx)[1][0], "events_timestamp__idx");
  }
}

// A date column and a date partition (Delta "date") become DATE columns (PostgreSQL: COPY text;
// DuckDB: the appender), and a second load finds them the same type (information_schema's "date").
TEST_P(WarehouseITest, DatesLoadAsDates) {
  auto schema = std::make_shared<Schema>(Schema{{{"_partition", LogicalType::kInt32},
                                                 {"_offset", LogicalType::kInt64},
                                                 {"timestamp", LogicalType::kTimestamp},
                                                 {"day", LogicalType::kDate, true}}});
  lake::TableOptions o;
  o.partitions = {lake::PartitionField::DateOf("timestamp")};
  o.checkpoint_interval = 0;
  for (int v = 1; v <= 2; ++v) {
    {
      auto t = lake::DeltaTable::Open(store_.get(), lake_db_.get(), "events", schema, o);
      ASSERT_TRUE(t.ok()) << t.status().message();
      RecordBatch b(schema);
      b.column(0).AppendInt32(0);
      b.column(1).AppendInt64(v);
      b.column(2).AppendInt64(1767654000000000LL + v * 3'600'000'000LL);  // 2026-01-06T00:00Z +
      if (v == 1) {
        b.column(3).AppendDate(20458);  // 2026-01-05
      } else {
        b.column(3).AppendNull();
      }
      ASSERT_TRUE((*t)->Append(b).ok());
      ASSERT_TRUE((*t)->Commit("test", v).ok());
    }
    Status s = MakeLoader(nullptr)->LoadOnce();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  auto c = OpenWarehouse(spec_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto r = (*c)->Query(
      "SELECT CAST(\"_offset\" AS TEXT), CAST(\"day\" AS TEXT), CAST(\"date\" AS TEXT) FROM "
      "events ORDER BY \"_offset\"");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0][1].value_or("-"), "2026-01-05");
  EXPECT_EQ((*r)[0][2].value_or("-"), "2026-01-06");
  EXPECT_EQ((*r)[1][1], std::nullopt);
  EXPECT_EQ((*r)[1][2].value_or("-"), "2026-01-06");
  auto types = (*c)->Query(
      "SELECT data_type FROM information_schema.columns WHERE table_name = 'events' AND "
      "column_name IN ('day', 'date')");
  ASSERT_TRUE(types.ok()) << types.status().message();
  ASSERT_EQ(types->size(), 2u);
  for (const auto& row : *types) {
    EXPECT_EQ((*c)->dialect().LogicalTypeOf(row[0].value_or("")), LogicalType::kDate);
  }
}

TEST_P(WarehouseITest, BreakingChangeIsRefusedClearly) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 10, false, 1);
  {
    auto c = OpenWarehouse(spec_);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Execute("CREATE TABLE events (\"deviceId\" TEXT, \"speed\" TEXT)").ok());
  }
  auto l = MakeLoader(nullptr);
  Status s = l->LoadOnce();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(s.message().find("column \"speed\" is"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("breaking schema change"), std::string::npos) << s.message();
}

TEST_P(WarehouseITest, ExactlyOnceWhenTheSessionIsCutAtEveryStep) {
  for (int v = 1; v <= 3; ++v)
    CommitEvents(store_.get(), lake_db_.get(), "events", (v - 1) * 4 + 1, 4, false, v);
  FaultPlan count;
  {
    auto l = MakeLoader(&count, 5);
    ASSERT_TRUE(l->LoadOnce().ok());
  }
  ASSERT_EQ(Rows(false), Expected(12, 1000));
  const int total = count.ops;
  for (bool after : {false, true}) {
    for (int k = 1; k <= total; k += 2) {
      NewWarehouse();
      FaultPlan plan;
      plan.fail_at = k;
      plan.after = after;
      {
        auto l = MakeLoader(&plan, 5);
        EXPECT_FALSE(l->LoadOnce().ok());
      }
      Status s = MakeLoader(nullptr, 5)->LoadOnce();
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(Rows(false), Expected(12, 1000)) << "cut at op " << k << " after=" << after;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, WarehouseITest, ::testing::Values("postgres", "duckdb"));

}  // namespace
}  // namespace smartcity::warehouse
