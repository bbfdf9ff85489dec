// SqlSession over a Delta table written by our writer and a Hive Parquet folder: committed rows
// only, partition columns, read-only lock-down, output forms.
#include "query/query.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
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

// Every way out of the committed data files that DuckDB offers, each refused: other files (outside
// the lake, relative to the working directory, uncommitted ones inside it, the staging folder, the
// Delta log, DuckDB's temp folder, a symbolic link), writes, other databases, extensions, settings,
// PRAGMA and CALL (even those DuckDB runs as a query), EXPLAIN ANALYZE of a non-query.
TEST_F(QueryTest, EveryEscapeRouteIsRefused) {
  test::TempDir outside_dir{"query_test_outside"};
  const fs::path outside = outside_dir / "secret.csv";
  std::ofstream(outside) << "secret\n42\n";
  ASSERT_TRUE(conn_
                  ->Execute("COPY (SELECT 42 AS secret) TO '" +
                            (outside_dir / "secret.parquet").string() + "' (FORMAT parquet)")
                  .ok());
  // Inside the lake: a file no commit references, one in the staging folder, a link to outside.
  const fs::path orphan = root_ / "events/date=2026-01-05/orphan.parquet";
  ASSERT_TRUE(
      conn_->Execute("COPY (SELECT 1 AS x) TO '" + orphan.string() + "' (FORMAT parquet)").ok());
  fs::create_directories(root_ / ".staging");
  std::ofstream(root_ / ".staging/put-x") << "staged\n";
  fs::create_symlink(outside_dir / "secret.parquet", root_ / "events/date=2026-01-05/link.parquet");
  auto s = Open();
  ASSERT_NE(s, nullptr);
  // DuckDB's temp folder: the session has none (DuckDB would let a query read it); a folder named
  // as the engine names them, with a file in it, is not readable either.
  auto tmp = One(s.get(), "SELECT current_setting('temp_directory') AS t", FormatCsv);
  ASSERT_TRUE(tmp.ok()) << tmp.status().message();
  EXPECT_EQ(*tmp, "t\n\n");
  test::TempDir temp_like{fmt::format("smartcity-duckdb-{}", ::getpid())};
  const std::string temp_dir = temp_like.string();
  std::ofstream(fs::path(temp_dir) / "block.tmp") << "spilled\n";
  const std::string relative = fs::relative(orphan).string();
  const std::string delta_json = (root_ / "events/_delta_log/00000000000000000000.json").string();
  ASSERT_TRUE(fs::exists(delta_json));
  const std::string out = (outside_dir / "out.csv").string();
  std::vector<std::string> files = {outside.string(),
                                    (outside_dir / "secret.parquet").string(),
                                    relative,
                                    orphan.string(),
                                    (root_ / ".staging/put-x").string(),
                                    delta_json,
                                    temp_dir + "/block.tmp",
                                    (root_ / "events/date=2026-01-05/link.parquet").string(),
                                    (root_ / "events/*/*.parquet").string(),
                                    (root_ / "**").string(),
                                    "file://" + orphan.string(),
                                    "s3://bucket/events/x.parquet"};
  std::vector<std::string> queries;
  for (const std::string& f : files) {
    for (const char* fn : {"read_csv", "read_parquet", "read_json", "read_text", "read_blob",
                           "glob", "parquet_metadata", "sniff_csv"}) {
      queries.push_back(fmt::format("SELECT * FROM {}('{}')", fn, f));
    }
    queries.push_back(fmt::format("SELECT * FROM '{}'", f));
  }
  for (const std::string& q : {
           "COPY events TO '" + out + "'",
           "COPY (SELECT 1) TO '" + out + "'",
           "EXPORT DATABASE '" + outside_dir.string() + "/export'",
           "ATTACH '" + (outside_dir / "x.db").string() + "'",
           std::string("ATTACH ':memory:' AS m"),
           std::string("DETACH memory"),
           std::string("USE memory"),
           std::string("INSTALL httpfs"),
           std::string("LOAD httpfs"),
           "LOAD '" + (outside_dir / "x.duckdb_extension").string() + "'",
           std::string("SET threads = 1"),
           std::string("SET temp_directory = '/tmp'"),
           std::string("RESET threads"),
           std::string("SET VARIABLE v = 1"),
           std::string("PRAGMA enable_profiling"),
           std::string("PRAGMA threads = 1"),
           std::string("PRAGMA show_tables"),
           std::string("PRAGMA table_info('events')"),
           std::string("PRAGMA version"),
           std::string("PRAGMA database_list"),
           std::string("  /* a comment */ pragma show_tables"),
           std::string("-- a comment\nCALL pragma_version()"),
           std::string("CALL duckdb_settings()"),
           std::string("CHECKPOINT"),
           std::string("BEGIN TRANSACTION"),
           std::string("CREATE TEMP TABLE t AS SELECT 1"),
           std::string("CREATE MACRO m() AS 1"),
           std::string("EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1"),
           std::string("EXPLAIN ANALYZE DROP VIEW events"),
           "EXPLAIN ANALYZE COPY (SELECT 1) TO '" + out + "'",
           "EXPLAIN (ANALYZE) COPY (SELECT 1) TO '" + out + "'",
           std::string("SELECT 1; PRAGMA show_tables"),
           std::string("SELECT 1; DROP VIEW events"),
       }) {
    queries.push_back(q);
  }
  for (const std::string& q : queries) {
    auto r = One(s.get(), q, FormatCsv);
    EXPECT_FALSE(r.ok()) << q << " answered:\n" << (r.ok() ? *r : "");
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
    }
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(outside_dir / "x.db"));
  EXPECT_FALSE(fs::exists(outside_dir / "export"));
  // The session is as it was: the views and their committed rows only.
  auto r = One(s.get(), "SELECT count(*) AS n FROM events", FormatCsv);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "n\n120\n");
}

// A committed data file replaced by a symbolic link to a file outside the lake: the table is not
// queryable (DuckDB's allowed_paths compares names; it would follow the link).
TEST_F(QueryTest, ACommittedFileThatIsASymlinkIsNotRead) {
  test::TempDir outside_dir{"query_test_outside"};
  const fs::path committed = root_ / "sales/region=eu/a.parquet";
  const fs::path secret = outside_dir / "secret.parquet";
  ASSERT_TRUE(conn_
                  ->Execute("COPY (SELECT 666 AS id, 6.66::DOUBLE AS amount) TO '" +
                            secret.string() + "' (FORMAT parquet)")
                  .ok());
  fs::remove(committed);
  fs::create_symlink(secret, committed);
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->tables(), (std::vector<std::string>{"events"}));
  ASSERT_EQ(s->warnings().size(), 1u);
  EXPECT_NE(s->warnings()[0].find("sales"), std::string::npos) << s->warnings()[0];
  EXPECT_NE(s->warnings()[0].find("symbolic link"), std::string::npos) << s->warnings()[0];
  EXPECT_FALSE(One(s.get(), "SELECT * FROM sales", FormatCsv).ok());
  EXPECT_FALSE(
      One(s.get(), "SELECT * FROM read_parquet('" + committed.string() + "')", FormatCsv).ok());
}

TEST_F(QueryTest, ExplainAndExplainAnalyzeOfQueriesRun) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  for (const char* q :
       {"EXPLAIN SELECT count(*) FROM events", "explain analyze SELECT count(*) FROM events",
        "EXPLAIN ANALYZE WITH a AS (SELECT 1 AS x) SELECT x FROM a",
        "SELECT 1 AS one; EXPLAIN SELECT 2"}) {
    auto r = One(s.get(), q, FormatCsv);
    ASSERT_TRUE(r.ok()) << q << ": " << r.status().message();
    EXPECT_NE(r->find("plan"), std::string::npos) << *r;
  }
}

TEST_F(QueryTest, AQueryOverItsTimeLimitIsStoppedAndTheSessionGoesOn) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  s->set_timeout(std::chrono::milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  auto r = One(s.get(),
               "SELECT count(*) FROM range(1000000) a(i), range(1000000) b(j) WHERE i * j % 7 = 3",
               FormatCsv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kTimeout);
  EXPECT_NE(r.status().message().find("time limit of 200 ms"), std::string::npos)
      << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
  auto after = One(s.get(), "SELECT count(*) AS n FROM events", FormatCsv);
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(*after, "n\n120\n");
}

// Every result type prints; NaN and infinities print as NaN, Infinity, -Infinity (JSON: strings).
TEST_F(QueryTest, EveryTypePrintsInEveryFormat) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  const std::string q =
      "SELECT [1, 2] AS l, {'a': 1} AS st, MAP {'k': 2} AS m, 'ab'::BLOB AS b, TIME '01:02:03' AS "
      "t, INTERVAL 3 DAY AS iv, '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9'::UUID AS u, "
      "170141183460469231731687303715884105727::HUGEINT AS h, 7::HUGEINT AS h7, "
      "12.50::DECIMAL(10, 2) AS d, 'x'::ENUM('x', 'y') AS e, 'nan'::DOUBLE AS n, "
      "'inf'::DOUBLE AS pinf, '-inf'::FLOAT AS minf";
  auto csv = One(s.get(), q, FormatCsv);
  ASSERT_TRUE(csv.ok()) << csv.status().message();
  EXPECT_EQ(*csv,
            "l,st,m,b,t,iv,u,h,h7,d,e,n,pinf,minf\n"
            "\"[1, 2]\",{'a': 1},{'k'=2},ab,01:02:03,3 days,0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9,"
            "170141183460469231731687303715884105727,7,12.50,x,NaN,Infinity,-Infinity\n");
  auto json = One(s.get(), q, FormatJsonLines);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(
      *json,
      "{\"l\":\"[1, 2]\",\"st\":\"{'a': 1}\",\"m\":\"{'k'=2}\",\"b\":\"ab\",\"t\":\"01:02:03\","
      "\"iv\":\"3 days\",\"u\":\"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\","
      "\"h\":\"170141183460469231731687303715884105727\",\"h7\":7,\"d\":12.5,\"e\":\"x\","
      "\"n\":\"NaN\",\"pinf\":\"Infinity\",\"minf\":\"-Infinity\"}\n");
  auto table =
      One(s.get(), "SELECT 'nan'::DOUBLE AS n, 12.50::DECIMAL(10, 2) AS d, [1] AS l", FormatTable);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(*table, "n   | d     | l\n----+-------+----\nNaN | 12.50 | [1]\n");
}

TEST_F(QueryTest, TableFormatAligns) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  auto r =
      One(s.get(), "SELECT 'a' AS name, 10 AS n UNION ALL SELECT 'bbb', 2 ORDER BY n", FormatTable);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "name | n\n-----+---\nbbb  |  2\na    | 10\n");
  // A value with line breaks (EXPLAIN's plan) takes several lines, as wide as its widest; widths
  // count characters, not UTF-8 bytes.
  r = One(s.get(), "SELECT 'ab' || chr(10) || 'cdef' AS x, 7 AS n, '│é' AS e", FormatTable);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "x    | n | e\n-----+---+---\nab   | 7 | │é\ncdef |   |\n");
  r = One(s.get(), "EXPLAIN SELECT 1", FormatTable);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->find("\n              | │"), std::string::npos) << *r;
  r = One(s.get(), "SELECT NULL AS x, 'q\"' AS y", FormatCsv);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "x,y\n,\"q\"\"\"\n");
}

}  // namespace
}  // namespace smartcity::query
