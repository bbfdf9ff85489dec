#include <gtest/gtest.h>

#include "engine/engine.h"
#include "warehouse/loader.h"
#include "warehouse/names.h"
#include "warehouse/postgres_warehouse.h"
#include "warehouse/warehouse.h"

namespace smartcity::warehouse {
namespace {

Schema Events() {
  Schema s;
  s.columns = {{"deviceId", LogicalType::kString},    {"timestamp", LogicalType::kTimestamp},
               {"speed", LogicalType::kDouble, true}, {"_partition", LogicalType::kInt32},
               {"_offset", LogicalType::kInt64},      {"ok", LogicalType::kBool, true},
               {"date", LogicalType::kString}};
  return s;
}

// Events() as the loader hands it to a warehouse: the warehouse's column names.
TargetColumns EventColumns() {
  TargetColumns t;
  t.lake = Events();
  std::vector<std::string> lake;
  for (const ColumnSpec& c : t.lake.columns) lake.push_back(c.name);
  t.names = WarehouseColumnNames(lake);
  return t;
}

Schema Named(const TargetColumns& t) {
  Schema s = t.lake;
  for (size_t i = 0; i < s.columns.size(); ++i) s.columns[i].name = t.names[i];
  return s;
}

TEST(DialectTest, PostgresCreateTableHasTypesKeyAndIndexes) {
  Dialect d(DialectKind::kPostgres);
  const Schema s = Events();
  const TableLayout l = LayoutFor("vehicle_data", s);
  ASSERT_EQ(l.key, (std::vector<std::string>{"_partition", "_offset"}));
  auto sql = d.CreateTable("vehicle_data", s, l.key, l.indexes);
  ASSERT_EQ(sql.size(), 3u);
  EXPECT_EQ(
      sql[0],
      "CREATE TABLE IF NOT EXISTS \"vehicle_data\" (\"deviceId\" TEXT NOT NULL, \"timestamp\" "
      "TIMESTAMPTZ NOT NULL, \"speed\" DOUBLE PRECISION, \"_partition\" INTEGER NOT NULL, "
      "\"_offset\" BIGINT NOT NULL, \"ok\" BOOLEAN, \"date\" TEXT NOT NULL, PRIMARY KEY "
      "(\"_partition\", \"_offset\"))");
  EXPECT_EQ(sql[1],
            "CREATE INDEX IF NOT EXISTS \"vehicle_data_timestamp_idx\" ON \"vehicle_data\" "
            "(\"timestamp\")");
  EXPECT_EQ(sql[2],
            "CREATE INDEX IF NOT EXISTS \"vehicle_data_deviceId_idx\" ON \"vehicle_data\" "
            "(\"deviceId\")");
  EXPECT_EQ(d.AddColumn("t", {"note", LogicalType::kString, false}),
            "ALTER TABLE \"t\" ADD COLUMN \"note\" TEXT");
}

TEST(DialectTest, DuckDbTablesHaveTheKeyButNoSecondaryIndexes) {
  // Zone maps serve DuckDB's time and device filters; ART indexes would grow in its buffer pool.
  const Schema s = Events();
  const TableLayout l = LayoutFor("vehicle_data", s);
  ASSERT_FALSE(l.indexes.empty());
  auto sql = Dialect(DialectKind::kDuckDb).CreateTable("vehicle_data", s, l.key, l.indexes);
  ASSERT_EQ(sql.size(), 1u);
  EXPECT_NE(sql[0].find("PRIMARY KEY (\"_partition\", \"_offset\")"), std::string::npos) << sql[0];
}

TEST(DialectTest, LayoutsOfOurTables) {
  Schema enriched;
  enriched.columns = {{"_vehiclePartition", LogicalType::kInt32},
                      {"_vehicleOffset", LogicalType::kInt64},
                      {"_weatherPartition", LogicalType::kInt32},
                      {"_weatherOffset", LogicalType::kInt64},
                      {"_emergencyPartition", LogicalType::kInt32, true},
                      {"_emergencyOffset", LogicalType::kInt64, true},
                      {"timestamp", LogicalType::kTimestamp}};
  const TableLayout el = LayoutFor("enriched_data", enriched);
  EXPECT_EQ(el.key, (std::vector<std::string>{"_vehiclePartition", "_vehicleOffset",
                                              "_weatherPartition", "_weatherOffset",
                                              "_emergencyPartition", "_emergencyOffset"}));
  // Nullable key columns: a UNIQUE constraint instead of a primary key.
  const std::string pg =
      Dialect(DialectKind::kPostgres).CreateTable("enriched_data", enriched, el.key, {})[0];
  EXPECT_NE(pg.find(", UNIQUE NULLS NOT DISTINCT (\"_vehiclePartition\""), std::string::npos) << pg;
  const std::string duck =
      Dialect(DialectKind::kDuckDb).CreateTable("enriched_data", enriched, el.key, {})[0];
  EXPECT_NE(duck.find(", UNIQUE (\"_vehiclePartition\""), std::string::npos) << duck;
  EXPECT_TRUE(LayoutFor("_late_events", enriched).key.empty());
  Schema dead;
  dead.columns = {{"topic", LogicalType::kString},
                  {"partition", LogicalType::kInt32},
                  {"offset", LogicalType::kInt64},
                  {"receivedAt", LogicalType::kTimestamp}};
  const TableLayout dl = LayoutFor("_dead_letters", dead);
  EXPECT_EQ(dl.key, (std::vector<std::string>{"topic", "partition", "offset"}));
  EXPECT_EQ(dl.indexes, (std::vector<std::string>{"receivedAt"}));
  Schema other;
  other.columns = {{"x", LogicalType::kInt32}};
  EXPECT_TRUE(LayoutFor("anything", other).key.empty());
}

TEST(DialectTest, SameTypeAcceptsWhatEachWarehouseReports) {
  Dialect pg(DialectKind::kPostgres);
  EXPECT_TRUE(pg.SameType("timestamp with time zone", LogicalType::kTimestamp));
  EXPECT_TRUE(pg.SameType("TIMESTAMP WITH TIME ZONE", LogicalType::kTimestamp));
  EXPECT_FALSE(pg.SameType("timestamp without time zone", LogicalType::kTimestamp));
  EXPECT_TRUE(pg.SameType("double precision", LogicalType::kDouble));
  EXPECT_TRUE(pg.SameType("DOUBLE", LogicalType::kDouble));
  EXPECT_TRUE(pg.SameType("VARCHAR", LogicalType::kString));
  EXPECT_TRUE(pg.SameType("character varying", LogicalType::kString));
  EXPECT_FALSE(pg.SameType("integer", LogicalType::kInt64));
  EXPECT_FALSE(pg.SameType("bigint", LogicalType::kDouble));
}

// The warehouse edge both ways: the DDL type of each LogicalType reads back as it, spelled as in
// the DDL or as information_schema reports it (a DuckDB warehouse, checked live; PostgreSQL's
// names are in SameTypeAcceptsWhatEachWarehouseReports).
TEST(DialectTest, EveryLogicalTypeRoundTripsThroughEachDialect) {
  for (DialectKind kind : {DialectKind::kDuckDb, DialectKind::kPostgres, DialectKind::kRedshift}) {
    const Dialect d(kind);
    for (LogicalType t : kAllLogicalTypes) {
      EXPECT_EQ(d.LogicalTypeOf(d.TypeName(t)), t) << d.TypeName(t);
    }
    EXPECT_EQ(d.LogicalTypeOf("numeric"), std::nullopt);
    EXPECT_EQ(d.LogicalTypeOf("timestamp without time zone"), std::nullopt);
  }
  auto db = engine::Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  const Dialect duck(DialectKind::kDuckDb);
  Schema all;
  for (LogicalType t : kAllLogicalTypes) {
    all.columns.push_back({"c_" + std::string(LogicalTypeName(t)), t, true});
  }
  for (const std::string& sql : duck.CreateTable("all_types", all, {}, {})) {
    ASSERT_TRUE((*conn)->Execute(sql).ok()) << sql;
  }
  auto r = (*conn)->Query(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
      "'all_types' ORDER BY ordinal_position");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->row_count(), all.columns.size());
  for (size_t i = 0; i < all.columns.size(); ++i) {
    EXPECT_EQ(r->GetString(0, i), all.columns[i].name);
    EXPECT_EQ(duck.LogicalTypeOf(r->GetString(1, i)), all.columns[i].type) << r->GetString(1, i);
  }
}

TEST(DialectTest, RedshiftCreateTableUsesDistAndSortKeysAndWideVarchar) {
  Dialect d(DialectKind::kRedshift);
  const Schema s = Named(EventColumns());
  // The loader's layout, in warehouse names.
  const std::vector<std::string> key = {"_partition", "_offset"};
  const std::vector<std::string> indexes = {"timestamp_", "device_id"};
  auto sql = d.CreateTable("vehicle_data", s, key, indexes);
  ASSERT_EQ(sql.size(), 1u);
  EXPECT_EQ(
      sql[0],
      "CREATE TABLE IF NOT EXISTS \"vehicle_data\" (\"device_id\" VARCHAR(65535) NOT NULL, "
      "\"timestamp_\" TIMESTAMPTZ NOT NULL, \"speed\" DOUBLE PRECISION, \"_partition\" INTEGER "
      "NOT NULL, \"_offset\" BIGINT NOT NULL, \"ok\" BOOLEAN, \"date\" VARCHAR(65535) NOT NULL, "
      "PRIMARY KEY (\"_partition\", \"_offset\")) DISTKEY(\"device_id\") "
      "SORTKEY(\"timestamp_\", \"device_id\")");
  EXPECT_EQ(d.CreateBookkeeping(),
            "CREATE TABLE IF NOT EXISTS \"_smartcity_loads\" (table_name VARCHAR(256) NOT NULL, "
            "delta_version BIGINT NOT NULL, row_count BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT "
            "NULL, PRIMARY KEY (table_name, delta_version))");
}

TEST(DialectTest, RedshiftCopiesEachParquetFileThroughAStagingTable) {
  const TargetColumns s = EventColumns();
  std::vector<ParquetFile> files = {
      {"s3://lake/vehicle_data/date=2026-01-05/part-0.zstd.parquet", {{"date", "2026-01-05"}}},
      {"s3://lake/vehicle_data/date=2026-01-06/part-1.zstd.parquet", {{"date", std::nullopt}}}};
  auto sql =
      RedshiftLoadStatements("vehicle_data", s, files, "arn:aws:iam::123456789012:role/load");
  ASSERT_EQ(sql.size(), 8u);
  EXPECT_EQ(
      sql[0],
      "CREATE TEMP TABLE IF NOT EXISTS \"_stage_vehicle_data\" (\"device_id\" "
      "VARCHAR(65535), \"timestamp_\" TIMESTAMPTZ, \"speed\" DOUBLE PRECISION, \"_partition\" "
      "INTEGER, \"_offset\" BIGINT, \"ok\" BOOLEAN)");
  EXPECT_EQ(sql[1], "DELETE FROM \"_stage_vehicle_data\"");
  EXPECT_EQ(sql[2],
            "COPY \"_stage_vehicle_data\" FROM "
            "'s3://lake/vehicle_data/date=2026-01-05/part-0.zstd.parquet' IAM_ROLE "
            "'arn:aws:iam::123456789012:role/load' FORMAT AS PARQUET");
  EXPECT_EQ(sql[3],
            "INSERT INTO \"vehicle_data\" (\"device_id\", \"timestamp_\", \"speed\", "
            "\"_partition\", \"_offset\", \"ok\", \"date\") SELECT \"device_id\", \"timestamp_\", "
            "\"speed\", \"_partition\", \"_offset\", \"ok\", '2026-01-05'::VARCHAR(65535) FROM "
            "\"_stage_vehicle_data\"");
  EXPECT_EQ(sql[4], "DELETE FROM \"_stage_vehicle_data\"");
  EXPECT_NE(sql[6].find(", NULL FROM"), std::string::npos) << sql[6];
  for (const auto& q : sql)
    EXPECT_EQ(q.find("TRUNCATE"), std::string::npos);  // commits on Redshift
}

TEST(DialectTest, RedshiftUrlNeedsAnIamRole) {
  auto t =
      ParseRedshiftUrl("redshift://u:p@example-cluster:5439/dev?iam_role=arn:aws:iam::1:role/r");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->iam_role, "arn:aws:iam::1:role/r");
  EXPECT_EQ(t->conninfo, "postgresql://u:p@example-cluster:5439/dev?sslmode=require");
  auto keep = ParseRedshiftUrl("redshift://u@h/db?sslmode=verify-full&iam_role=arn:x");
  ASSERT_TRUE(keep.ok());
  EXPECT_EQ(keep->conninfo, "postgresql://u@h/db?sslmode=verify-full");
  auto missing = ParseRedshiftUrl("redshift://u@h:5439/db");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("iam_role"), std::string::npos);
}

TEST(DialectTest, CopyTextEscapesAndFormats) {
  auto schema = std::make_shared<Schema>();
  schema->columns = {{"s", LogicalType::kString, true}, {"i", LogicalType::kInt32},
                     {"l", LogicalType::kInt64},        {"d", LogicalType::kDouble},
                     {"t", LogicalType::kTimestamp},    {"b", LogicalType::kBool}};
  RecordBatch b(schema);
  b.column(0).AppendString("a\tb\\c\nd\re");
  b.column(1).AppendInt32(-7);
  b.column(2).AppendInt64(1234567890123LL);
  b.column(3).AppendDouble(0.1);
  b.column(4).AppendInt64(1767654000000123LL);  // 2026-01-05T23:00:00.000123Z
  b.column(5).AppendBool(true);
  b.column(0).AppendNull();
  b.column(1).AppendInt32(0);
  b.column(2).AppendInt64(0);
  b.column(3).AppendDouble(-1e300);
  b.column(4).AppendInt64(-1);  // 1969-12-31T23:59:59.999999Z
  b.column(5).AppendBool(false);
  std::string out;
  AppendCopyText(b, 0, 2, &out);
  EXPECT_EQ(out,
            "a\\tb\\\\c\\nd\\re\t-7\t1234567890123\t0.1\t2026-01-05 23:00:00.000123+00\tt\n"
            "\\N\t0\t0\t-1e+300\t1969-12-31 23:59:59.999999+00\tf\n");
}

TEST(DialectTest, OpenWarehouseRejectsUnknownSchemes) {
  auto w = OpenWarehouse("mysql://x");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(DuckDbPath("duckdb:/tmp/w.duckdb"), std::optional<std::string>("/tmp/w.duckdb"));
  EXPECT_FALSE(DuckDbPath("postgres:").has_value());
}

TEST(DialectTest, CopyTextWritesDatesAsIsoDays) {
  auto schema = std::make_shared<Schema>(Schema{{{"day", LogicalType::kDate, true}}});
  RecordBatch b(schema);
  b.column(0).AppendDate(20458);
  b.column(0).AppendNull();
  std::string out;
  AppendCopyText(b, 0, 2, &out);
  EXPECT_EQ(out, "2026-01-05\n\\N\n");
}

}  // namespace
}  // namespace smartcity::warehouse
