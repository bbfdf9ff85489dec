#include "engine/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "testing/files.h"

namespace smartcity::engine {
namespace {

std::shared_ptr<const Schema> TestSchema() {
  auto s = std::make_shared<Schema>();
  s->columns = {{"name", LogicalType::kString, true},   {"i32", LogicalType::kInt32, false},
                {"i64", LogicalType::kInt64, false},    {"d", LogicalType::kDouble, true},
                {"ts", LogicalType::kTimestamp, false}, {"b", LogicalType::kBool, true}};
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
  EXPECT_EQ(r->column_type(0), LogicalType::kInt32);
  EXPECT_EQ(r->GetString(1, 0), "x'y");
  EXPECT_DOUBLE_EQ(r->GetDouble(2, 0), 2.5);
  EXPECT_TRUE(r->IsNull(3, 0));
  EXPECT_TRUE(r->GetBool(4, 0));
  EXPECT_EQ(r->column_type(5), LogicalType::kTimestamp);
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

// A new database file appears whole: made under "<path>.creating" and linked into place, so a
// process killed while DuckDB writes its headers leaves no file that never opens again. What such a
// process left under the temporary name does not stop the next one; a file that is not a database
// is reported and left as it is.
TEST(EngineTest, DatabaseFileIsCreatedWhole) {
  const test::TempDir dir("smartcity-engine-create");
  const std::string path = (dir / "w.duckdb").string();
  {
    // Left by a creator killed while creating, an hour ago.
    for (const std::string& f :
         {path + ".creating-17-0a0b0c0d", path + ".creating-17-0a0b0c0d.wal"}) {
      std::ofstream(f) << "cut short";
      std::filesystem::last_write_time(
          f, std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
    }
    // A write-ahead log whose database file was deleted: not replayed into the new one (DuckDB
    // replays a log it finds beside an existing file).
    const std::string other = (dir / "other.duckdb").string();
    {
      auto o = Database::Open(other);
      ASSERT_TRUE(o.ok());
      auto oc = (*o)->Connect();
      ASSERT_TRUE(oc.ok());
      ASSERT_TRUE((*oc)->Execute("PRAGMA disable_checkpoint_on_shutdown").ok());
      ASSERT_TRUE((*oc)->Execute("CREATE TABLE foreign_rows AS SELECT 1 AS y").ok());
    }
    ASSERT_TRUE(std::filesystem::exists(other + ".wal"));
    std::filesystem::copy_file(other + ".wal", path + ".wal");
    auto db = Database::Open(path);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto conn = (*db)->Connect();
    ASSERT_TRUE(conn.ok());
    auto foreign = (*conn)->Query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'foreign_rows'");
    ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();
    EXPECT_EQ(foreign->GetInt64(0, 0), 0);
    ASSERT_TRUE((*conn)->Execute("CREATE TABLE t AS SELECT 42 AS x").ok());
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".creating"), std::string::npos) << e.path();
  }
  {
    auto db = Database::Open(path);  // reopened, not made again
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto conn = (*db)->Connect();
    ASSERT_TRUE(conn.ok());
    auto r = (*conn)->Query("SELECT x FROM t");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->GetInt64(0, 0), 42);
  }
  const std::string empty = (dir / "empty.duckdb").string();
  std::ofstream(empty).flush();
  auto bad = Database::Open(empty);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not a valid DuckDB database file"), std::string::npos)
      << bad.status().message();
  EXPECT_EQ(std::filesystem::file_size(empty), 0u);
  auto no_folder = Database::Open((dir / "missing" / "w.duckdb").string());
  EXPECT_FALSE(no_folder.ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "missing"));
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
  auto p = (*conn)->PrepareScript(
      "SELECT x FROM t; WITH a AS (SELECT 2 AS y) SELECT y FROM a; DROP TABLE t");
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

// kDisplay reads every type DuckDB returns, each as its text; kValues refuses the same query.
TEST(EngineTest, DisplayResultsReadEveryTypeAsText) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1, 2, NULL]", "[1, 2, NULL]"},
      {"['a', 'it''s']", "['a', 'it''s']"},
      {"{'a': 1, 'b': 'x'}", "{'a': 1, 'b': 'x'}"},
      {"MAP {'k': 2, 'm': NULL}", "{'k'=2, 'm'=NULL}"},
      {"[[1], []]", "[[1], []]"},
      {"[1.5, 2]::DOUBLE[2]", "[1.5, 2]"},
      {"[{'x': [1]}]", "[{'x': [1]}]"},
      {"'\\x00ab\\xFF'::BLOB", "\\x00ab\\xFF"},
      {"TIME '12:34:56.5'", "12:34:56.5"},
      {"TIMETZ '12:34:56+02:30'", "12:34:56+02:30"},
      {"INTERVAL '1 year 2 months 3 days 04:05:06.25'", "1 year 2 months 3 days 04:05:06.25"},
      {"INTERVAL '0 seconds'", "00:00:00"},
      {"INTERVAL '-90 seconds'", "-00:01:30"},
      {"'0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9'::UUID", "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"},
      {"'ffffffff-ffff-ffff-ffff-ffffffffffff'::UUID", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
      {"'00000000-0000-0000-0000-000000000000'::UUID", "00000000-0000-0000-0000-000000000000"},
      {"170141183460469231731687303715884105727::HUGEINT",
       "170141183460469231731687303715884105727"},
      {"(-170141183460469231731687303715884105727)::HUGEINT - 1",
       "-170141183460469231731687303715884105728"},
      {"340282366920938463463374607431768211455::UHUGEINT",
       "340282366920938463463374607431768211455"},
      {"18446744073709551615::UBIGINT", "18446744073709551615"},
      {"123456789012345678.1234::DECIMAL(38, 4)", "123456789012345678.1234"},
      {"-0.05::DECIMAL(4, 3)", "-0.050"},
      {"12.5::DECIMAL(10, 2)", "12.50"},
      {"'b'::ENUM('a', 'b')", "b"},
      {"['nan'::DOUBLE, 'inf'::DOUBLE, '-inf'::FLOAT]", "[NaN, Infinity, -Infinity]"},
  };
  for (const auto& [expr, want] : cases) {
    auto p = (*conn)->PrepareScript("SELECT " + expr + " AS v");
    ASSERT_TRUE(p.ok()) << expr << ": " << p.status().message();
    auto r = (*p)[0]->Execute(ResultForm::kDisplay);
    ASSERT_TRUE(r.ok()) << expr << ": " << r.status().message();
    ASSERT_EQ(r->row_count(), 1u);
    EXPECT_EQ(r->column_type(0), LogicalType::kString) << expr;
    EXPECT_EQ(r->GetString(0, 0), want) << expr;
  }
  // NULLs of such types, and the number flag.
  auto p = (*conn)->PrepareScript(
      "SELECT NULL::INT[] AS l, 1::HUGEINT AS h, 2.5::DECIMAL(3, 1) AS d, 'x'::BLOB AS b");
  ASSERT_TRUE(p.ok());
  auto r = (*p)[0]->Execute(ResultForm::kDisplay);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->IsNull(0, 0));
  EXPECT_TRUE(r->is_number_text(1));
  EXPECT_TRUE(r->is_number_text(2));
  EXPECT_FALSE(r->is_number_text(3));
  EXPECT_EQ(r->GetString(2, 0), "2.5");
  // The loaders' form is unchanged: a LIST is refused, a HUGEINT reads as an int64.
  EXPECT_FALSE((*conn)->Query("SELECT [1] AS l").ok());
  auto h = (*conn)->Query("SELECT 5::HUGEINT AS h");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->column_type(0), LogicalType::kInt64);
}

// Every type nullable; each column has its own null pattern so no two line up.
std::shared_ptr<const Schema> AllNullableSchema() {
  auto s = std::make_shared<Schema>();
  s->columns = {{"name", LogicalType::kString, true},  {"i32", LogicalType::kInt32, true},
                {"i64", LogicalType::kInt64, true},    {"d", LogicalType::kDouble, true},
                {"ts", LogicalType::kTimestamp, true}, {"b", LogicalType::kBool, true},
                {"row", LogicalType::kInt64, false}};
  return s;
}

// Row i: strings cycle through empty, ASCII, non-ASCII and longer-than-inline values.
std::string NameOf(size_t i) {
  switch (i % 4) {
    case 0:
      return "";
    case 1:
      return "v" + std::to_string(i);
    case 2:
      return "Zürich–東京 🚗 " + std::to_string(i);
    default:
      return "a-string-longer-than-twelve-bytes-" + std::to_string(i);
  }
}

RecordBatch AllTypesBatch(size_t n) {
  RecordBatch batch(AllNullableSchema());
  for (size_t i = 0; i < n; ++i) {
    const auto v = static_cast<int64_t>(i);
    if (i % 7 == 3)
      batch.column(0).AppendNull();
    else
      batch.column(0).AppendString(NameOf(i));
    if (i % 11 == 1)
      batch.column(1).AppendNull();
    else
      batch.column(1).AppendInt32(static_cast<int32_t>(v) - 1000);
    if (i % 13 == 2)
      batch.column(2).AppendNull();
    else
      batch.column(2).AppendInt64(v * 3000000000LL);
    if (i % 5 == 4)
      batch.column(3).AppendNull();
    else
      batch.column(3).AppendDouble(static_cast<double>(v) / 8 - 7);
    if (i % 9 == 5)
      batch.column(4).AppendNull();
    else
      batch.column(4).AppendTimestamp(EventTime(Micros(1767607200000000LL + v * 1001)));
    if (i % 3 == 0)
      batch.column(5).AppendNull();
    else
      batch.column(5).AppendBool(i % 2 == 0);
    batch.column(6).AppendInt64(v);
  }
  return batch;
}

// A path for a Parquet file in one directory for the whole test binary, removed when it exits.
std::string TempParquet(const std::string& name) {
  static const test::TempDir dir("smartcity-engine-test");
  return (dir / (name + ".parquet")).string();
}

TEST(EngineTest, CopyToParquetWritesRowsOfEveryTypeWithNulls) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  const size_t n = 7000;  // several DuckDB vectors (2048 rows each)
  RecordBatch batch = AllTypesBatch(n);
  const std::string path = TempParquet("types");
  // A row range that does not start at 0 and columns in a different order than the schema.
  const size_t begin = 123, end = 6543;
  std::array<int, 7> cols{6, 5, 0, 4, 3, 2, 1};
  Status st = (*conn)->CopyToParquet(batch, cols, begin, end, path);
  ASSERT_TRUE(st.ok()) << st.message();

  auto r = (*conn)->Query("SELECT \"row\", b, name, ts, d, i64, i32 FROM read_parquet(" +
                          QuoteLiteral(path) + ")");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->row_count(), end - begin);
  EXPECT_EQ(r->column_type(1), LogicalType::kBool);
  EXPECT_EQ(r->column_type(2), LogicalType::kString);
  EXPECT_EQ(r->column_type(3), LogicalType::kTimestamp);
  EXPECT_EQ(r->column_type(4), LogicalType::kDouble);
  EXPECT_EQ(r->column_type(5), LogicalType::kInt64);
  EXPECT_EQ(r->column_type(6), LogicalType::kInt32);
  size_t nulls[7] = {};
  for (size_t k = 0; k < r->row_count(); ++k) {
    const size_t i = begin + k;  // rows keep their order
    ASSERT_EQ(r->GetInt64(0, k), static_cast<int64_t>(i));
    for (size_t c = 1; c < 7; ++c) nulls[c] += r->IsNull(c, k) ? 1 : 0;
    const Column& name = batch.column(0);
    ASSERT_EQ(r->IsNull(2, k), name.IsNull(i)) << i;
    if (!name.IsNull(i)) {
      ASSERT_EQ(r->GetString(2, k), name.GetString(i)) << i;
    }
    ASSERT_EQ(r->IsNull(1, k), batch.column(5).IsNull(i)) << i;
    if (!r->IsNull(1, k)) {
      ASSERT_EQ(r->GetBool(1, k), batch.column(5).GetBool(i)) << i;
    }
    ASSERT_EQ(r->IsNull(3, k), batch.column(4).IsNull(i)) << i;
    if (!r->IsNull(3, k)) {
      ASSERT_EQ(r->GetTimestamp(3, k), batch.column(4).GetTimestamp(i)) << i;
    }
    ASSERT_EQ(r->IsNull(4, k), batch.column(3).IsNull(i)) << i;
    if (!r->IsNull(4, k)) {
      ASSERT_EQ(r->GetDouble(4, k), batch.column(3).GetDouble(i)) << i;
    }
    ASSERT_EQ(r->IsNull(5, k), batch.column(2).IsNull(i)) << i;
    if (!r->IsNull(5, k)) {
      ASSERT_EQ(r->GetInt64(5, k), batch.column(2).GetInt64(i)) << i;
    }
    ASSERT_EQ(r->IsNull(6, k), batch.column(1).IsNull(i)) << i;
    if (!r->IsNull(6, k)) {
      ASSERT_EQ(r->GetInt64(6, k), batch.column(1).GetInt32(i)) << i;
    }
  }
  for (size_t c = 1; c < 7; ++c) EXPECT_GT(nulls[c], 0u) << "column " << c << " has no null";
  // Empty and non-ASCII strings survive as themselves.
  auto s = (*conn)->Query(
      "SELECT count(*) FILTER (WHERE name = ''), count(*) FILTER (WHERE name "
      "LIKE 'Zürich–東京 🚗 %') FROM read_parquet(" +
      QuoteLiteral(path) + ")");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_GT(s->GetInt64(0, 0), 0);
  EXPECT_GT(s->GetInt64(1, 0), 0);

  // The Parquet types readers are tested against: timestamps are INT64 TIMESTAMP(MICROS, UTC).
  auto schema = (*conn)->Query("SELECT name, type, logical_type::VARCHAR FROM parquet_schema(" +
                               QuoteLiteral(path) + ") WHERE name <> 'duckdb_schema'");
  ASSERT_TRUE(schema.ok()) << schema.status().message();
  std::map<std::string, std::pair<std::string, std::string>> types;
  for (size_t k = 0; k < schema->row_count(); ++k) {
    types[schema->GetString(0, k)] = {schema->GetString(1, k),
                                      schema->IsNull(2, k) ? "" : schema->GetString(2, k)};
  }
  EXPECT_EQ(types["ts"].first, "INT64");
  EXPECT_NE(types["ts"].second.find("isAdjustedToUTC=1"), std::string::npos) << types["ts"].second;
  EXPECT_NE(types["ts"].second.find("MICROS"), std::string::npos) << types["ts"].second;
  EXPECT_EQ(types["name"].first, "BYTE_ARRAY");
  EXPECT_EQ(types["i32"].first, "INT32");
  EXPECT_EQ(types["i64"].first, "INT64");
  EXPECT_EQ(types["d"].first, "DOUBLE");
  EXPECT_EQ(types["b"].first, "BOOLEAN");
  auto meta = (*conn)->Query("SELECT DISTINCT compression FROM parquet_metadata(" +
                             QuoteLiteral(path) + ")");
  ASSERT_TRUE(meta.ok()) << meta.status().message();
  ASSERT_EQ(meta->row_count(), 1u);
  EXPECT_EQ(meta->GetString(0, 0), "ZSTD");
  std::filesystem::remove(path);
}

// Rows of several batches, one range after the other, make the file one batch of the same rows
// makes: same values, same order, across vectors and batch boundaries, with empty ranges between.
TEST(EngineTest, CopyToParquetOfSeveralBatchesWritesTheirRowsInOrder) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  const RecordBatch whole = AllTypesBatch(7000);
  // The same rows in three batches: 0..2500, 2500..2501, 2501..7000.
  std::vector<RecordBatch> parts;
  for (auto [b, e] : {std::pair<size_t, size_t>{0, 2500}, {2500, 2501}, {2501, 7000}}) {
    parts.emplace_back(whole.schema_ptr());
    parts.back().AppendRows(whole, b, e);
  }
  // Empty ranges first, between and last; one of exactly a vector's rows.
  const size_t vector = 2048;  // DuckDB's vector size
  const std::vector<RowRange> ranges{
      {&parts[0], 0, 0},      {&parts[0], 100, 2500},    {&parts[1], 0, 0},      {&parts[1], 0, 1},
      {&parts[2], 0, vector}, {&parts[2], vector, 3999}, {&parts[2], 3999, 3999}};
  std::array<int, 7> cols{6, 5, 0, 4, 3, 2, 1};
  const std::string one = TempParquet("ranges-one"), several = TempParquet("ranges-several");
  ASSERT_TRUE((*conn)->CopyToParquet(whole, cols, 100, 6500, one).ok());
  Status st = (*conn)->CopyToParquet(ranges, cols, several);
  ASSERT_TRUE(st.ok()) << st.message();

  auto order = (*conn)->Query("SELECT \"row\" FROM read_parquet(" + QuoteLiteral(several) + ")");
  ASSERT_TRUE(order.ok()) << order.status().message();
  ASSERT_EQ(order->row_count(), 6400u);
  for (size_t k = 0; k < order->row_count(); ++k)
    ASSERT_EQ(order->GetInt64(0, k), static_cast<int64_t>(100 + k)) << k;
  auto diff =
      (*conn)->Query("SELECT (SELECT count(*) FROM (FROM read_parquet(" + QuoteLiteral(one) +
                     ") EXCEPT ALL FROM read_parquet(" + QuoteLiteral(several) +
                     "))), (SELECT count(*) FROM (FROM read_parquet(" + QuoteLiteral(several) +
                     ") EXCEPT ALL FROM read_parquet(" + QuoteLiteral(one) + ")))");
  ASSERT_TRUE(diff.ok()) << diff.status().message();
  EXPECT_EQ(diff->GetInt64(0, 0), 0);
  EXPECT_EQ(diff->GetInt64(1, 0), 0);

  // Only empty ranges: a file of no rows, with the columns.
  const std::vector<RowRange> none{{&parts[0], 5, 5}, {&parts[2], 0, 0}};
  ASSERT_TRUE((*conn)->CopyToParquet(none, cols, several).ok());
  auto empty = (*conn)->Query("FROM read_parquet(" + QuoteLiteral(several) + ")");
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_EQ(empty->row_count(), 0u);
  EXPECT_EQ(empty->column_count(), cols.size());

  // What the scan cannot read is refused before DuckDB sees it.
  EXPECT_EQ((*conn)->CopyToParquet(std::span<const RowRange>(), cols, several).kind(),
            ErrorKind::kInvalidArgument);
  const std::vector<RowRange> past_end{{&parts[0], 0, 10}, {&parts[1], 0, 2}};
  EXPECT_EQ((*conn)->CopyToParquet(past_end, cols, several).kind(), ErrorKind::kInvalidArgument);
  auto other_schema = std::make_shared<Schema>();
  other_schema->columns = {{"x", LogicalType::kInt64, true}, {"y", LogicalType::kInt64, true}};
  RecordBatch other(other_schema);
  other.column(0).AppendInt64(1);
  other.column(1).AppendInt64(2);
  const std::vector<RowRange> mixed{{&parts[0], 0, 10}, {&other, 0, 1}};
  std::array<int, 2> two{0, 1};
  EXPECT_EQ((*conn)->CopyToParquet(mixed, two, several).kind(), ErrorKind::kInvalidArgument);
  std::filesystem::remove(one);
  std::filesystem::remove(several);
}

TEST(EngineTest, CopyToParquetOfNoRowsWritesAnEmptyFile) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  RecordBatch batch = AllTypesBatch(10);
  const std::string path = TempParquet("empty");
  std::array<int, 2> cols{0, 4};
  ASSERT_TRUE((*conn)->CopyToParquet(batch, cols, 5, 5, path).ok());
  auto r = (*conn)->Query("SELECT count(*) FROM read_parquet(" + QuoteLiteral(path) + ")");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->GetInt64(0, 0), 0);
  std::filesystem::remove(path);
}

TEST(EngineTest, CopyToParquetWithoutDictionariesWritesPlainColumnsOfTheSameRows) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  const size_t n = 5000;
  auto schema = std::make_shared<Schema>();
  schema->columns = {{"make", LogicalType::kString, true},
                     {"year", LogicalType::kInt32, true},
                     {"row", LogicalType::kInt64, false}};
  RecordBatch batch(schema);  // few distinct makes and years: dictionary-worthy
  for (size_t i = 0; i < n; ++i) {
    batch.column(0).AppendString(i % 3 == 0 ? "Tesla"
                                            : (i % 3 == 1 ? "BMW" : "Škoda Octavia Combi"));
    batch.column(1).AppendInt32(static_cast<int32_t>(2015 + i % 7));
    batch.column(2).AppendInt64(static_cast<int64_t>(i));
  }
  std::array<int, 3> cols{2, 1, 0};
  // Column name -> its encodings in the file's first row group.
  auto encodings = [&](const std::string& path) {
    std::map<std::string, std::string> out;
    auto r = (*conn)->Query("SELECT path_in_schema, encodings FROM parquet_metadata(" +
                            QuoteLiteral(path) + ") WHERE row_group_id = 0");
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return out;
    for (size_t k = 0; k < r->row_count(); ++k) out[r->GetString(0, k)] = r->GetString(1, k);
    return out;
  };
  const std::string with = TempParquet("dict"), without = TempParquet("plain");
  ASSERT_TRUE((*conn)->CopyToParquet(batch, cols, 0, n, with).ok());
  ParquetCopyOptions plain;
  plain.dictionary = false;
  Status st = (*conn)->CopyToParquet(batch, cols, 0, n, without, plain);
  ASSERT_TRUE(st.ok()) << st.message();

  EXPECT_NE(encodings(with)["make"].find("DICTIONARY"), std::string::npos)
      << encodings(with)["make"];
  const auto plain_enc = encodings(without);
  ASSERT_EQ(plain_enc.size(), 3u);
  for (const auto& [column, enc] : plain_enc) EXPECT_EQ(enc, "PLAIN") << column;
  // Same rows, in the same order.
  auto diff =
      (*conn)->Query("SELECT count(*) FROM (SELECT * FROM read_parquet(" + QuoteLiteral(with) +
                     ") EXCEPT ALL SELECT * FROM read_parquet(" + QuoteLiteral(without) + "))");
  ASSERT_TRUE(diff.ok()) << diff.status().message();
  EXPECT_EQ(diff->GetInt64(0, 0), 0);
  auto rows = (*conn)->Query("SELECT count(*) FROM read_parquet(" + QuoteLiteral(without) + ")");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(rows->GetInt64(0, 0), static_cast<int64_t>(n));
  std::filesystem::remove(with);
  std::filesystem::remove(without);
}

TEST(EngineTest, RowScanFunctionRejectsTokensOfNoWriteInProgress) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  const std::string fn(kRowScanFunction);
  for (const std::string arg : {"12345", "0", "NULL", "-1"}) {
    auto r = (*conn)->Query("SELECT * FROM " + fn + "(" + arg + ")");
    ASSERT_FALSE(r.ok()) << arg;
    EXPECT_NE(r.status().message().find("no Parquet write in progress"), std::string::npos)
        << r.status().message();
  }
  EXPECT_FALSE((*conn)->Query("SELECT * FROM " + fn + "(18446744073709551615)").ok());
  EXPECT_FALSE((*conn)->Query("SELECT * FROM " + fn + "('x')").ok());
  // The connection still works afterwards.
  EXPECT_TRUE((*conn)->Query("SELECT 1").ok());
}

TEST(EngineTest, CopyToParquetFromSeveralThreadsAndDatabases) {
  // The function is registered per database and found from every connection; concurrent writes
  // each read their own rows.
  auto db1 = Database::Open("");
  auto db2 = Database::Open("");
  ASSERT_TRUE(db1.ok() && db2.ok());
  RecordBatch batch = AllTypesBatch(3000);
  std::vector<std::thread> threads;
  std::vector<Status> results(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Database* db = (t % 2 == 0 ? db1 : db2)->get();
      auto conn = db->Connect();
      if (!conn.ok()) {
        results[t] = conn.status();
        return;
      }
      std::array<int, 2> cols{6, 0};
      for (int k = 0; k < 3 && results[t].ok(); ++k) {
        const std::string path =
            TempParquet("thread" + std::to_string(t) + "-" + std::to_string(k));
        const size_t begin = static_cast<size_t>(t) * 100 + static_cast<size_t>(k);
        results[t] = (*conn)->CopyToParquet(batch, cols, begin, 3000, path);
        if (!results[t].ok()) break;
        auto r = (*conn)->Query("SELECT count(*), min(\"row\") FROM read_parquet(" +
                                QuoteLiteral(path) + ")");
        std::filesystem::remove(path);
        if (!r.ok()) {
          results[t] = r.status();
        } else if (r->GetInt64(0, 0) != static_cast<int64_t>(3000 - begin) ||
                   r->GetInt64(1, 0) != static_cast<int64_t>(begin)) {
          results[t] = Status::Internal("wrong rows in " + path);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.message();
}

TEST(EngineTest, CopyToParquetReportsAnUnwritablePath) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  RecordBatch batch = AllTypesBatch(10);
  std::array<int, 1> cols{0};
  Status st = (*conn)->CopyToParquet(batch, cols, 0, 10, "/nonexistent-dir/x/y.parquet");
  EXPECT_FALSE(st.ok());
  // Rows or columns the batch does not hold are refused before DuckDB reads anything.
  EXPECT_FALSE((*conn)->CopyToParquet(batch, cols, 0, 11, TempParquet("too-many")).ok());
  EXPECT_FALSE((*conn)->CopyToParquet(batch, cols, 6, 5, TempParquet("backwards")).ok());
  std::array<int, 1> bad_col{7};
  EXPECT_FALSE((*conn)->CopyToParquet(batch, bad_col, 0, 10, TempParquet("bad-col")).ok());
  // The failed call left no source behind and the connection keeps working.
  const std::string path = TempParquet("after-error");
  EXPECT_TRUE((*conn)->CopyToParquet(batch, cols, 0, 10, path).ok());
  std::filesystem::remove(path);
}

// One value of each type, appended to a column of that type.
void AppendSample(LogicalType t, Column* col) {
  switch (t) {
    case LogicalType::kString:
      return col->AppendString("a longer string than twelve bytes");
    case LogicalType::kInt32:
      return col->AppendInt32(-7);
    case LogicalType::kInt64:
      return col->AppendInt64(1LL << 40);
    case LogicalType::kDouble:
      return col->AppendDouble(2.5);
    case LogicalType::kTimestamp:
      return col->AppendTimestamp(EventTime(Micros(1767607200123456LL)));
    case LogicalType::kBool:
      return col->AppendBool(true);
    case LogicalType::kDate:
      return col->AppendDate(20458);
  }
}

// The engine edge both ways: a column of type t goes into DuckDB as DuckType(t) (appender and
// Parquet) or SqlTypeName(t) (SQL) and every one reads back as column_type() == t, same value.
TEST(EngineTest, EveryLogicalTypeRoundTripsThroughDuckDb) {
  const std::map<LogicalType, std::string> text = {
      {LogicalType::kString, "a longer string than twelve bytes"},
      {LogicalType::kInt32, "-7"},
      {LogicalType::kInt64, "1099511627776"},
      {LogicalType::kDouble, "2.5"},
      {LogicalType::kTimestamp, "2026-01-05T10:00:00.123456Z"},
      {LogicalType::kBool, "true"},
      {LogicalType::kDate, "2026-01-05"}};
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  for (LogicalType t : kAllLogicalTypes) {
    SCOPED_TRACE(std::string(LogicalTypeName(t)));
    const std::string type(SqlTypeName(t));
    auto cast = (*conn)->Query("SELECT CAST(NULL AS " + type + ") AS x");
    ASSERT_TRUE(cast.ok()) << cast.status().message();
    EXPECT_EQ(cast->column_type(0), t);

    auto schema = std::make_shared<Schema>(Schema{{{"x", t, true}}});
    RecordBatch batch(schema);
    AppendSample(t, &batch.column(0));
    batch.column(0).AppendNull();
    const std::array<int, 1> cols{0};
    ASSERT_TRUE((*conn)->Execute("CREATE OR REPLACE TABLE rt (x " + type + ")").ok());
    auto app = (*conn)->MakeAppender("rt");
    ASSERT_TRUE(app.ok()) << app.status().message();
    ASSERT_TRUE((*app)->AppendColumns(batch, cols, 0, 2).ok());
    ASSERT_TRUE((*app)->Close().ok());
    const std::string path = TempParquet("roundtrip");
    ASSERT_TRUE((*conn)->CopyToParquet(batch, cols, 0, 2, path).ok());
    for (const std::string& from :
         {std::string("rt"), "read_parquet(" + QuoteLiteral(path) + ")"}) {
      auto r = (*conn)->Query("SELECT x FROM " + from);
      ASSERT_TRUE(r.ok()) << r.status().message();
      ASSERT_EQ(r->row_count(), 2u);
      EXPECT_EQ(r->column_type(0), t) << from;
      EXPECT_EQ(r->GetString(0, 0), text.at(t)) << from;
      EXPECT_TRUE(r->IsNull(0, 1)) << from;
    }
    std::filesystem::remove(path);
  }
  // DuckDB types with no LogicalType of their own read as the nearest one, or are refused.
  auto near = (*conn)->Query(
      "SELECT 1::SMALLINT, 1.5::FLOAT, TIMESTAMP '2026-01-05 10:00:00', 2::UBIGINT, 'x'::VARCHAR");
  ASSERT_TRUE(near.ok()) << near.status().message();
  EXPECT_EQ(near->column_type(0), LogicalType::kInt32);
  EXPECT_EQ(near->column_type(1), LogicalType::kDouble);
  EXPECT_EQ(near->column_type(2), LogicalType::kTimestamp);
  EXPECT_EQ(FormatTimestamp(near->GetTimestamp(2, 0)), "2026-01-05T10:00:00.000000Z");
  EXPECT_EQ(near->column_type(3), LogicalType::kInt64);
  EXPECT_EQ((*conn)->Query("SELECT [1, 2] AS l").status().kind(), ErrorKind::kInvalidArgument);
}

TEST(EngineTest, QuotingHelpers) {
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
  EXPECT_EQ(QuoteIdentifier("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(SqlTypeName(LogicalType::kTimestamp), "TIMESTAMPTZ");
}

}  // namespace
}  // namespace smartcity::engine
