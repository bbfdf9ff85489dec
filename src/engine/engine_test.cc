#include "engine/engine.h"

#include <gtest/gtest.h>

#include <array>

namespace smartcity::engine {
namespace {

std::shared_ptr<const Schema> TestSchema() {
  auto s = std::make_shared<Schema>();
  s->columns = {{"name", ColumnType::kString, true},   {"i32", ColumnType::kInt32, false},
                {"i64", ColumnType::kInt64, false},    {"d", ColumnType::kDouble, true},
                {"ts", ColumnType::kTimestamp, false}, {"b", ColumnType::kBool, true}};
  return s;
}

TEST(EngineTest, QueryReturnsTypedValues) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  auto r = (*conn)->Query(
      "SELECT 42::INTEGER AS i, 'x''y' AS s, 2.5::DOUBLE AS d, NULL::BIGINT AS n, true AS b, "
      "TIMESTAMPTZ '2026-01-05 10:00:00.123456+00' AS ts, DATE '2026-01-05' AS day, "
      "1.25::DECIMAL(10,2) AS dec, "
      "sum(x)::HUGEINT AS h FROM (VALUES (1), (2)) t(x)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->row_count(), 1u);
  EXPECT_EQ(r->GetInt64(0, 0), 42);
  EXPECT_EQ(r->column_type(0), ValueType::kInt32);
  EXPECT_EQ(r->GetString(1, 0), "x'y");
  EXPECT_DOUBLE_EQ(r->GetDouble(2, 0), 2.5);
  EXPECT_TRUE(r->IsNull(3, 0));
  EXPECT_TRUE(r->GetBool(4, 0));
  EXPECT_EQ(r->column_type(5), ValueType::kTimestampTz);
  EXPECT_EQ(FormatTimestamp(r->GetTimestamp(5, 0)), "2026-01-05T10:00:00.123456Z");
  EXPECT_EQ(r->GetString(6, 0), "2026-01-05");
  EXPECT_DOUBLE_EQ(r->GetDouble(7, 0), 1.25);
  EXPECT_EQ(r->GetInt64(8, 0), 3);
  EXPECT_EQ(r->ColumnIndex("day"), 6);
  EXPECT_EQ(r->ColumnIndex("nope"), -1);
}

TEST(EngineTest, ErrorsCarryDuckDbText) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  auto r = (*conn)->Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no_such_table"), std::string::npos) << r.status().message();
  Status s = (*conn)->Execute("SELEC 1");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("syntax"), std::string::npos) << s.message();
  auto unsupported = (*conn)->Query("SELECT [1, 2] AS l");
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.status().message().find("cast it"), std::string::npos);
  auto app = (*conn)->MakeAppender("missing");
  EXPECT_FALSE(app.ok());
}

TEST(EngineTest, AppenderLoadsRecordBatchColumnsWithNulls) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(
      (*conn)
          ->Execute(
              "CREATE TABLE t (name VARCHAR, i32 INTEGER, i64 BIGINT, d DOUBLE, ts TIMESTAMPTZ, "
              "b BOOLEAN)")
          .ok());
  RecordBatch batch(TestSchema());
  const size_t n = 5000;  // more than one DuckDB vector
  for (size_t i = 0; i < n; ++i) {
    if (i % 7 == 0) {
      batch.column(0).AppendNull();
    } else {
      batch.column(0).AppendString("device-" + std::to_string(i % 13) + std::string(i % 20, 'x'));
    }
    batch.column(1).AppendInt32(static_cast<int32_t>(i));
    batch.column(2).AppendInt64(static_cast<int64_t>(i) * 1000000000LL);
    if (i % 5 == 0) {
      batch.column(3).AppendNull();
    } else {
      batch.column(3).AppendDouble(static_cast<double>(i) / 4);
    }
    batch.column(4).AppendTimestamp(
        EventTime(Micros(1767607200000000LL + static_cast<int64_t>(i))));
    batch.column(5).AppendBool(i % 2 == 0);
  }
  auto app = (*conn)->MakeAppender("t");
  ASSERT_TRUE(app.ok()) << app.status().message();
  std::array<int, 6> cols{0, 1, 2, 3, 4, 5};
  ASSERT_TRUE((*app)->AppendColumns(batch, cols, 0, 3000).ok());
  ASSERT_TRUE((*app)->AppendColumns(batch, cols, 3000, n).ok());
  ASSERT_TRUE((*app)->Close().ok());
  auto r = (*conn)->Query(
      "SELECT count(*), count(name), sum(i32), max(i64), count(d), min(ts), sum(b::INTEGER) FROM "
      "t");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->GetInt64(0, 0), 5000);
  EXPECT_EQ(r->GetInt64(1, 0), 5000 - 715);
  EXPECT_EQ(r->GetInt64(2, 0), 4999 * 5000 / 2);
  EXPECT_EQ(r->GetInt64(3, 0), 4999LL * 1000000000LL);
  EXPECT_EQ(r->GetInt64(4, 0), 4000);
  EXPECT_EQ(FormatTimestamp(r->GetTimestamp(5, 0)), "2026-01-05T10:00:00.000000Z");
  EXPECT_EQ(r->GetInt64(6, 0), 2500);
  auto row = (*conn)->Query("SELECT name, d FROM t WHERE i32 = 4999");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->GetString(0, 0), "device-7" + std::string(19, 'x'));
  EXPECT_DOUBLE_EQ(row->GetDouble(1, 0), 4999.0 / 4);
}

TEST(EngineTest, PrepareScriptClassifiesEveryStatementBeforeRunningAny) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Execute("CREATE TABLE t AS SELECT 1 AS x").ok());
  auto p = (*conn)->PrepareScript("SELECT x FROM t; WITH a AS (SELECT 2 AS y) SELECT y FROM a; DROP TABLE t");
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->size(), 3u);
  EXPECT_TRUE((*p)[0]->IsQuery());
  EXPECT_TRUE((*p)[1]->IsQuery());
  EXPECT_FALSE((*p)[2]->IsQuery());
  EXPECT_EQ((*p)[2]->TypeName(), "DROP");
  auto r = (*p)[1]->Execute();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->GetInt64(0, 0), 2);
  // Nothing ran the DROP: the table is still there.
  EXPECT_TRUE((*conn)->Query("SELECT x FROM t").ok());
  EXPECT_FALSE((*conn)->PrepareScript("SELEC 1").ok());
  EXPECT_FALSE((*conn)->PrepareScript("SELECT * FROM missing").ok());
  auto copy = (*conn)->PrepareScript("COPY t TO '/tmp/never.csv'");
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ((*copy)[0]->TypeName(), "COPY");
}

TEST(EngineTest, QuotingHelpers) {
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
  EXPECT_EQ(QuoteIdentifier("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(SqlTypeName(ColumnType::kTimestamp), "TIMESTAMPTZ");
}

}  // namespace
}  // namespace smartcity::engine
