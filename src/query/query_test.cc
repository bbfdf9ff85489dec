// SqlSession over a Delta table written by our writer and a Hive Parquet folder: committed rows
// only, partition columns, read-only lock-down, output forms.
#include "query/query.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lake/delta_table.h"
#include "lake/lake_testutil.h"
#include "testing/files.h"

namespace smartcity::query {
namespace {

namespace fs = std::filesystem;
using lake::testing::EventSchema;
using lake::testing::kJan5At23h;
using lake::testing::kMinute;
using lake::testing::MakeEvents;

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(lake::LocalObjectStore::Open(root_)).value();
    db_ = std::move(engine::Database::Open("")).value();
    conn_ = std::move(db_->Connect()).value();
    lake::TableOptions o;
    o.partitions = {lake::PartitionField::DateOf("ts")};
    o.scratch_dir = root_ / ".scratch";
    auto t = lake::DeltaTable::Open(store_.get(), db_.get(), "events", EventSchema(), o);
    ASSERT_TRUE(t.ok()) << t.status().message();
    ASSERT_TRUE((*t)->Append(*MakeEvents(EventSchema(), 1, 120, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE((*t)->Commit("app", 1).ok());
    fs::create_directories(root_ / "sales/region=eu");
    ASSERT_TRUE(conn_
                    ->Execute("COPY (SELECT 1 AS id, 2.5::DOUBLE AS amount) TO '" +
                              (root_ / "sales/region=eu/a.parquet").string() + "' (FORMAT parquet)")
                    .ok());
    auto c = catalog::Crawl(store_.get(), conn_.get(), root_.string());
    ASSERT_TRUE(c.ok());
    catalog_ = *c;
  }
  std::unique_ptr<SqlSession> Open() {
    auto s = SqlSession::Open(store_.get(), catalog_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // The single result of `sql`, or the error.
  Result<std::string> One(SqlSession* s, const std::string& sql,
                          std::string (*format)(const engine::QueryResult&)) {
    std::string out;
    Status st = s->Run(sql, [&](const engine::QueryResult& r, double) { out += format(r); });
    if (!st.ok()) return st;
    return out;
  }

  test::TempDir tmp_{"query_test"};
  const fs::path root_ = tmp_.path();
  std::unique_ptr<lake::ObjectStore> store_;
  std::unique_ptr<engine::Database> db_;
  std::unique_ptr<engine::Connection> conn_;
  catalog::Catalog catalog_;
};

TEST_F(QueryTest, ViewsReadCommittedRowsWithPartitionColumns) {
  // An uncommitted file inside the table folder must not be read.
  ASSERT_TRUE(conn_
                  ->Execute("COPY (SELECT * FROM range(1000)) TO '" +
                            (root_ / "events/date=2026-01-05/orphan.parquet").string() +
                            "' (FORMAT parquet)")
                  .ok());
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->tables(), (std::vector<std::string>{"events", "sales"}));
  auto r = One(s.get(),
               "SELECT date, count(*) AS n, min(seq) AS lo FROM events GROUP BY date ORDER BY date",
               FormatCsv);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "date,n,lo\n2026-01-05,60,1\n2026-01-06,60,61\n");
  r = One(s.get(), "SELECT region, id, amount FROM sales", FormatJsonLines);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "{\"region\":\"eu\",\"id\":1,\"amount\":2.5}\n");
  r = One(s.get(), "SELECT min(ts) AS first FROM events", FormatCsv);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "first\n2026-01-05T23:00:00.000000Z\n");
}

TEST_F(QueryTest, WritesFilesExtensionsAndSettingsAreRefused) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  const std::string out = (root_ / "copy.csv").string();
  for (const std::string& q :
       {std::string("DROP VIEW events"), "COPY events TO '" + out + "'",
        "COPY (SELECT 1) TO '" + out + "'",
        std::string("ATTACH '") + (root_ / "x.db").string() + "'", std::string("INSTALL httpfs"),
        std::string("LOAD httpfs"), std::string("PRAGMA enable_profiling"),
        std::string("PRAGMA threads = 1"), std::string("SET threads = 1"),
        std::string("CREATE TABLE x AS SELECT 1"),
        std::string("SELECT * FROM read_csv('/etc/passwd')"),
        std::string("SELECT * FROM read_parquet('") + (root_ / "events/*/*.parquet").string() +
            "')",
        std::string("SELECT 1; DROP VIEW events")}) {
    auto r = One(s.get(), q, FormatCsv);
    EXPECT_FALSE(r.ok()) << q;
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(root_ / "x.db"));
  auto r = One(s.get(), "SELECT count(*) FROM events", FormatCsv);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "count_star()\n120\n");
  auto missing = One(s.get(), "SELECT * FROM nope", FormatCsv);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cataloged tables: events, sales"), std::string::npos);
  EXPECT_FALSE(One(s.get(), "SELEC 1", FormatCsv).ok());
}

TEST_F(QueryTest, TableFormatAligns) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  auto r =
      One(s.get(), "SELECT 'a' AS name, 10 AS n UNION ALL SELECT 'bbb', 2 ORDER BY n", FormatTable);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "name | n\n-----+---\nbbb  |  2\na    | 10\n");
  r = One(s.get(), "SELECT NULL AS x, 'q\"' AS y", FormatCsv);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "x,y\n,\"q\"\"\"\n");
}

}  // namespace
}  // namespace smartcity::query
