// Crawl of Delta tables written by our writer and Parquet folders written by DuckDB (as a foreign
// writer would), re-crawl comparison, JSON round trip and the exports.
#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "lake/delta_table.h"
#include "lake/lake_testutil.h"
#include "lake/symlink_manifest.h"
#include "testing/files.h"

namespace smartcity::catalog {
namespace {

namespace fs = std::filesystem;
using lake::testing::EventSchema;
using lake::testing::kJan5At23h;
using lake::testing::kMinute;
using lake::testing::MakeEvents;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = lake::LocalObjectStore::Open(root_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    auto db = engine::Database::Open("");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto c = db_->Connect();
    ASSERT_TRUE(c.ok());
    conn_ = std::move(*c);
  }
  // 120 one-minute events from Jan 5 23:00 (two dates), committed in two commits.
  void WriteDeltaTable(const std::string& prefix, bool iceberg = false) {
    lake::TableOptions o;
    o.iceberg = iceberg;
    o.partitions = {lake::PartitionField::DateOf("ts")};
    o.scratch_dir = root_ / ".scratch";
    auto t = lake::DeltaTable::Open(store_.get(), db_.get(), prefix, EventSchema(), o);
    ASSERT_TRUE(t.ok()) << t.status().message();
    ASSERT_TRUE((*t)->Append(*MakeEvents(EventSchema(), 1, 90, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE((*t)->Commit("app", 1).ok());
    ASSERT_TRUE(
        (*t)->Append(*MakeEvents(EventSchema(), 91, 30, kJan5At23h + 90 * kMinute, kMinute)).ok());
    ASSERT_TRUE((*t)->Commit("app", 2).ok());
  }

  void Sql(const std::string& sql) {
    Status s = conn_->Execute(sql);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  Catalog CrawlOk() {
    auto c = Crawl(store_.get(), conn_.get(), root_.string());
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? *c : Catalog{};
  }

  test::TempDir tmp_{"catalog_test"};
  const fs::path root_ = tmp_.path();
  std::unique_ptr<lake::ObjectStore> store_;
  std::unique_ptr<engine::Database> db_;
  std::unique_ptr<engine::Connection> conn_;
};

TEST_F(CatalogTest, DeltaTableFromTheLog) {
  WriteDeltaTable("events");
  Catalog c = CrawlOk();
  ASSERT_EQ(c.tables.size(), 1u);
  const TableEntry& t = c.tables[0];
  EXPECT_EQ(t.name, "events");
  EXPECT_EQ(t.format, "delta");
  EXPECT_EQ(t.location, (root_ / "events").string());
  EXPECT_EQ(t.row_count, 120);
  EXPECT_EQ(t.delta_version, 2);
  std::vector<Column> want = {{"deviceId", "VARCHAR"}, {"ts", "TIMESTAMP WITH TIME ZONE"},
                              {"speed", "DOUBLE"},     {"lane", "INTEGER"},
                              {"seq", "BIGINT"},       {"ok", "BOOLEAN"}};
  EXPECT_EQ(t.columns, want);
  ASSERT_EQ(t.partition_columns.size(), 1u);
  EXPECT_EQ(t.partition_columns[0].name, "date");
  EXPECT_EQ(t.partition_columns[0].type, "DATE");
  ASSERT_EQ(t.partitions.size(), 2u);
  EXPECT_EQ(t.partitions[0].values.at("date"), "2026-01-05");
  EXPECT_EQ(t.partitions[0].rows, 60);
  EXPECT_EQ(t.partitions[1].values.at("date"), "2026-01-06");
  EXPECT_EQ(t.partitions[1].rows, 60);
  EXPECT_EQ(t.partitions[0].Path({"date"}), "date=2026-01-05");
  EXPECT_GE(t.file_count, 2);
  EXPECT_GT(t.size_bytes, 0);
  EXPECT_FALSE(t.last_modified.empty());
  EXPECT_TRUE(t.problems.empty());
  ASSERT_EQ(t.schema_versions.size(), 1u);
  EXPECT_EQ(t.schema_versions[0].columns.size(), 7u);
}

TEST_F(CatalogTest, OrphanDataFilesInADeltaFolderAreNotCounted) {
  WriteDeltaTable("events");
  // A data file nobody committed (a crashed writer): listing would count it, the log does not.
  Sql("COPY (SELECT 'x' AS deviceId) TO '" +
      (root_ / "events/date=2026-01-05/orphan.parquet").string() + "' (FORMAT parquet)");
  Catalog c = CrawlOk();
  ASSERT_EQ(c.tables.size(), 1u);
  EXPECT_EQ(c.tables[0].row_count, 120);
}

TEST_F(CatalogTest, HivePartitionedParquetWithAnAddedColumnIsACompatibleEvolution) {
  fs::create_directories(root_ / "sales/day=2026-01-01");
  fs::create_directories(root_ / "sales/day=2026-01-02");
  Sql("COPY (SELECT range AS id, range::DOUBLE * 1.5 AS amount FROM range(3)) TO '" +
      (root_ / "sales/day=2026-01-01/a.parquet").string() + "' (FORMAT parquet)");
  Sql("COPY (SELECT range AS id, range::DOUBLE * 1.5 AS amount, 'n' AS note FROM range(2)) TO '" +
      (root_ / "sales/day=2026-01-02/b.parquet").string() + "' (FORMAT parquet)");
  Catalog c = CrawlOk();
  ASSERT_EQ(c.tables.size(), 1u);
  const TableEntry& t = c.tables[0];
  EXPECT_EQ(t.format, "hive-parquet");
  EXPECT_EQ(t.columns,
            (std::vector<Column>{{"id", "BIGINT"}, {"amount", "DOUBLE"}, {"note", "VARCHAR"}}));
  EXPECT_EQ(t.partition_columns, (std::vector<Column>{{"day", "DATE"}}));
  EXPECT_EQ(t.row_count, 5);
  EXPECT_EQ(t.file_count, 2);
  ASSERT_EQ(t.schema_versions.size(), 2u);
  EXPECT_EQ(t.schema_versions[1].change, ChangeKind::kCompatible);
  ASSERT_EQ(t.schema_versions[1].details.size(), 1u);
  EXPECT_NE(t.schema_versions[1].details[0].find("added column note VARCHAR"), std::string::npos);
  CrawlDiff d = MergeWithPrevious(nullptr, &c);
  EXPECT_FALSE(d.any_breaking());
  EXPECT_EQ(HiveType("DECIMAL(18,1)"), "decimal(18,1)");
}

TEST_F(CatalogTest, ReCrawlReportsNewPartitionsAndBreakingChangesAndKeepsOldSchemas) {
  fs::create_directories(root_ / "t/p=1");
  Sql("COPY (SELECT 1::INTEGER AS a, 'x' AS b) TO '" + (root_ / "t/p=1/f.parquet").string() +
      "' (FORMAT parquet)");
  Catalog first = CrawlOk();
  MergeWithPrevious(nullptr, &first);
  EXPECT_EQ(first.tables[0].partition_columns, (std::vector<Column>{{"p", "BIGINT"}}));

  // A new partition whose files change a's type and drop b.
  fs::create_directories(root_ / "t/p=2");
  Sql("COPY (SELECT 'y' AS a) TO '" + (root_ / "t/p=2/g.parquet").string() + "' (FORMAT parquet)");
  Catalog second = CrawlOk();
  CrawlDiff d = MergeWithPrevious(&first, &second);
  EXPECT_TRUE(d.any_breaking());
  bool new_partition = false, type_change = false, dropped = false;
  for (const TableChange& ch : d.changes) {
    new_partition |= ch.what == "new partition p=2";
    type_change |= ch.breaking &&
                   ch.what.find("column a: type changed INTEGER -> VARCHAR") != std::string::npos;
    dropped |= ch.breaking && ch.what.find("dropped column b VARCHAR") != std::string::npos;
  }
  EXPECT_TRUE(new_partition);
  EXPECT_TRUE(type_change);
  EXPECT_TRUE(dropped);
  const auto& versions = second.tables[0].schema_versions;
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].columns, first.tables[0].schema_versions[0].columns);
  EXPECT_EQ(versions[1].change, ChangeKind::kBreaking);

  // Unchanged lake: no changes, the history stays as it is.
  Catalog third = CrawlOk();
  CrawlDiff none = MergeWithPrevious(&second, &third);
  EXPECT_TRUE(none.changes.empty());
  EXPECT_EQ(third.tables[0].schema_versions.size(), 2u);
}

TEST_F(CatalogTest, MixedAndUnreadableFilesAreReportedNotFatal) {
  WriteDeltaTable("events");
  fs::create_directories(root_ / "mixed");
  Sql("COPY (SELECT 1 AS k) TO '" + (root_ / "mixed/good.parquet").string() + "' (FORMAT parquet)");
  std::ofstream(root_ / "mixed/readme.txt") << "hello";
  std::ofstream(root_ / "mixed/bad.parquet") << "PAR1garbagePAR1";
  // A Delta folder whose log is damaged.
  fs::create_directories(root_ / "broken/_delta_log");
  std::ofstream(root_ / "broken/_delta_log/00000000000000000000.json") << "{not json";
  Catalog c = CrawlOk();
  ASSERT_EQ(c.tables.size(), 3u);
  const TableEntry* mixed = c.Find("mixed");
  ASSERT_NE(mixed, nullptr);
  EXPECT_EQ(mixed->row_count, 1);
  ASSERT_EQ(mixed->problems.size(), 2u);
  EXPECT_NE(mixed->problems[0].find("readme.txt"), std::string::npos);
  EXPECT_NE(mixed->problems[1].find("bad.parquet"), std::string::npos);
  const TableEntry* broken = c.Find("broken");
  ASSERT_NE(broken, nullptr);
  EXPECT_FALSE(broken->problems.empty());
  EXPECT_EQ(c.Find("events")->row_count, 120);
}

// A Delta log damaged after a crawl: the re-crawl reports the problem, not a breaking schema
// change and rows falling to 0; the table keeps what the last crawl knew, and once the log is
// repaired the next crawl finds nothing changed.
TEST_F(CatalogTest, ADamagedLogIsAProblemNotAChange) {
  WriteDeltaTable("events");
  Catalog first = CrawlOk();
  MergeWithPrevious(nullptr, &first);
  const fs::path commit = root_ / "events/_delta_log/00000000000000000001.json";
  std::string good;
  {
    std::ifstream in(commit);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(commit, std::ios::trunc) << "{not json";
  Catalog second = CrawlOk();
  CrawlDiff d = MergeWithPrevious(&first, &second);
  EXPECT_FALSE(d.any_breaking());
  for (const TableChange& ch : d.changes) ADD_FAILURE() << ch.table << ": " << ch.what;
  const TableEntry* events = second.Find("events");
  ASSERT_NE(events, nullptr);
  ASSERT_EQ(events->problems.size(), 1u);
  EXPECT_NE(events->problems[0].find("cannot be read"), std::string::npos) << events->problems[0];
  EXPECT_EQ(events->AllColumns(), first.tables[0].AllColumns());
  EXPECT_EQ(events->row_count, 120);
  EXPECT_EQ(events->schema_versions.size(), 1u);

  std::ofstream(commit, std::ios::trunc) << good;
  Catalog third = CrawlOk();
  CrawlDiff repaired = MergeWithPrevious(&second, &third);
  for (const TableChange& ch : repaired.changes) ADD_FAILURE() << ch.table << ": " << ch.what;
  EXPECT_TRUE(third.Find("events")->problems.empty());
  EXPECT_EQ(third.Find("events")->schema_versions.size(), 1u);
}

TEST_F(CatalogTest, JsonRoundTripAndPersistenceInTheLake) {
  WriteDeltaTable("events");
  fs::create_directories(root_ / "sales/day=2026-01-01");
  Sql("COPY (SELECT 1 AS id) TO '" + (root_ / "sales/day=2026-01-01/a.parquet").string() +
      "' (FORMAT parquet)");
  Catalog c = CrawlOk();
  MergeWithPrevious(nullptr, &c);
  std::string json = ToJson(c);
  auto back = CatalogFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(ToJson(*back), json);
  ASSERT_TRUE(SaveCatalog(c, store_.get(), "").ok());
  EXPECT_TRUE(fs::exists(root_ / "_catalog/catalog.json"));
  auto loaded = LoadCatalog(store_.get(), "");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(ToJson(*loaded), json);
  // The catalog object is not a table on the next crawl.
  EXPECT_EQ(CrawlOk().tables.size(), 2u);
  EXPECT_EQ(LoadCatalog(store_.get(), (root_ / "missing.json").string()).status().kind(),
            ErrorKind::kNotFound);
  EXPECT_FALSE(CatalogFromJson("{\"format\":\"other\"}").ok());
}

TEST_F(CatalogTest, AthenaExportsDeltaTablesNativelyAndParquetFoldersAsParquet) {
  WriteDeltaTable("events");
  Sql("COPY (SELECT 1::INTEGER AS id, 2.5::DOUBLE AS amount, DATE '2026-01-01' AS day) TO '" +
      root_.string() + "/sales' (FORMAT parquet, PARTITION_BY (day))");
  Catalog c = CrawlOk();
  ExportOptions o;
  EXPECT_EQ(ExportAthena(c, o).status().kind(), ErrorKind::kInvalidArgument);  // local lake, no S3
  o.s3_location = "s3://bucket/lake/";
  auto ddl = ExportAthena(c, o);
  ASSERT_TRUE(ddl.ok());
  // The Delta table: Athena reads its log (only the snapshot's files); no columns, no partitions.
  EXPECT_NE(ddl->find("CREATE EXTERNAL TABLE IF NOT EXISTS `smartcity`.`events`\n"
                      "LOCATION 's3://bucket/lake/events/'\n"
                      "TBLPROPERTIES ('table_type'='DELTA');\n"),
            std::string::npos)
      << *ddl;
  EXPECT_EQ(ddl->find("`events` ("), std::string::npos) << *ddl;
  EXPECT_EQ(ddl->find("PARTITION (`date`"), std::string::npos) << *ddl;
  EXPECT_EQ(ddl->find("'classification'='delta'"), std::string::npos) << *ddl;
  // The Parquet folder: columns, partitions, the Parquet SerDe.
  EXPECT_NE(ddl->find("CREATE EXTERNAL TABLE IF NOT EXISTS `smartcity`.`sales` (\n  `id` int,\n  "
                      "`amount` double\n)\nPARTITIONED BY (\n  `day` date\n)\n"
                      "ROW FORMAT SERDE "
                      "'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'"),
            std::string::npos)
      << *ddl;
  EXPECT_NE(ddl->find("'classification'='parquet'"), std::string::npos);
  EXPECT_NE(ddl->find("ALTER TABLE `smartcity`.`sales` ADD IF NOT EXISTS PARTITION "
                      "(`day`='2026-01-01') LOCATION 's3://bucket/lake/sales/day=2026-01-01/'"),
            std::string::npos)
      << *ddl;
}

TEST_F(CatalogTest, GlueExportsTheNativeDeltaFormAndParquetWithPartitionKeys) {
  WriteDeltaTable("events");
  Sql("COPY (SELECT 1::INTEGER AS id, DATE '2026-01-01' AS day) TO '" + root_.string() +
      "/sales' (FORMAT parquet, PARTITION_BY (day))");
  Catalog c = CrawlOk();
  ExportOptions o;
  o.s3_location = "s3://bucket/lake";
  auto glue = ExportGlue(c, o);
  ASSERT_TRUE(glue.ok());
  auto j = nlohmann::json::parse(*glue);
  ASSERT_EQ(j.size(), 2u);
  const auto& events = j[0]["TableInput"];
  EXPECT_EQ(j[0]["DatabaseName"], "smartcity");
  EXPECT_EQ(events["Name"], "events");
  EXPECT_EQ(events["TableType"], "EXTERNAL_TABLE");
  EXPECT_EQ(events["Parameters"]["table_type"], "DELTA");
  EXPECT_EQ(events["Parameters"]["spark.sql.sources.provider"], "delta");
  EXPECT_EQ(events["StorageDescriptor"]["Location"], "s3://bucket/lake/events/");
  EXPECT_FALSE(events.contains("PartitionKeys"));  // Athena takes the partitions from the log
  EXPECT_FALSE(events["StorageDescriptor"].contains("InputFormat"));  // never read as Parquet
  ASSERT_EQ(events["StorageDescriptor"]["Columns"].size(), 7u);
  EXPECT_EQ(events["StorageDescriptor"]["Columns"][1],
            (nlohmann::json{{"Name", "ts"}, {"Type", "timestamp"}}));
  EXPECT_EQ(events["StorageDescriptor"]["Columns"][6],
            (nlohmann::json{{"Name", "date"}, {"Type", "date"}}));
  const auto& sales = j[1]["TableInput"];
  EXPECT_EQ(sales["Name"], "sales");
  EXPECT_EQ(sales["Parameters"]["classification"], "parquet");
  EXPECT_FALSE(sales["Parameters"].contains("table_type"));
  EXPECT_EQ(sales["PartitionKeys"], nlohmann::json::parse(R"([{"Name":"day","Type":"date"}])"));
  EXPECT_EQ(sales["StorageDescriptor"]["InputFormat"],
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat");
  EXPECT_EQ(sales["StorageDescriptor"]["Columns"],
            nlohmann::json::parse(R"([{"Name":"id","Type":"int"}])"));
}

TEST_F(CatalogTest, GlueRegistersATableWithIcebergMetadataInTheIcebergForm) {
  WriteDeltaTable("events", true);
  WriteDeltaTable("plain_delta");
  Catalog c = CrawlOk();
  ASSERT_NE(c.Find("events"), nullptr);
  // Creation and two commits: metadata versions 1..3.
  EXPECT_EQ(c.Find("events")->iceberg_metadata, "metadata/v3.metadata.json");
  EXPECT_EQ(c.Find("plain_delta")->iceberg_metadata, "");
  auto back = CatalogFromJson(ToJson(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Find("events")->iceberg_metadata, "metadata/v3.metadata.json");
  ExportOptions o;
  o.s3_location = "s3://bucket/lake";
  auto glue = ExportGlue(c, o);
  ASSERT_TRUE(glue.ok());
  auto j = nlohmann::json::parse(*glue);
  ASSERT_EQ(j.size(), 2u);
  const auto& events = j[0]["TableInput"];
  EXPECT_EQ(events["Name"], "events");
  EXPECT_EQ(events["Parameters"]["table_type"], "ICEBERG");
  EXPECT_EQ(events["Parameters"]["metadata_location"],
            "s3://bucket/lake/events/metadata/v3.metadata.json");
  EXPECT_EQ(events["StorageDescriptor"]["Location"], "s3://bucket/lake/events/");
  EXPECT_EQ(events["StorageDescriptor"]["Columns"].size(), 7u);
  EXPECT_EQ(j[1]["TableInput"]["Parameters"]["table_type"], "DELTA");
  auto ddl = ExportAthena(c, o);
  ASSERT_TRUE(ddl.ok());
  EXPECT_NE(ddl->find("-- events also has Iceberg metadata "
                      "(s3://bucket/lake/events/metadata/v3.metadata.json)"),
            std::string::npos)
      << *ddl;
}

TEST_F(CatalogTest, SpectrumReadsDeltaTablesThroughTheirManifestFolders) {
  WriteDeltaTable("events");
  fs::create_directories(root_ / "plain");
  Sql("COPY (SELECT 1::INTEGER AS \"odd \"\"name\", 'x' AS s) TO '" + root_.string() +
      "/plain/f.parquet' (FORMAT parquet)");
  Catalog c = CrawlOk();
  ExportOptions o;
  o.s3_location = "s3://bucket/lake";
  auto ddl = ExportSpectrum(c, o);
  ASSERT_TRUE(ddl.ok());
  EXPECT_NE(ddl->find("CREATE EXTERNAL TABLE \"smartcity\".\"events\" (\n  \"deviceId\" "
                      "varchar(65535),\n  \"ts\" timestamp,\n  \"speed\" double precision,\n  "
                      "\"lane\" int,\n  \"seq\" bigint,\n  \"ok\" boolean\n)\n"
                      "PARTITIONED BY (\n  \"date\" date\n)\n"),
            std::string::npos)
      << *ddl;
  EXPECT_NE(
      ddl->find("STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'"
                "\n  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'"
                "\nLOCATION 's3://bucket/lake/events/_symlink_format_manifest/';"),
      std::string::npos)
      << *ddl;
  EXPECT_NE(ddl->find("ALTER TABLE \"smartcity\".\"events\" ADD IF NOT EXISTS PARTITION "
                      "(\"date\"='2026-01-06') LOCATION "
                      "'s3://bucket/lake/events/_symlink_format_manifest/date=2026-01-06/';"),
            std::string::npos)
      << *ddl;
  // A plain Parquet folder is read as Parquet; a name with a quote is quoted.
  EXPECT_NE(ddl->find("CREATE EXTERNAL TABLE \"smartcity\".\"plain\" (\n  \"odd \"\"name\" int,"),
            std::string::npos)
      << *ddl;
  EXPECT_NE(ddl->find("LOCATION 's3://bucket/lake/plain/';"), std::string::npos);
}

// The manifests a Spectrum export writes are not data: the next crawl sees the same tables and
// files (and the property's metadata commit as a new version).
TEST_F(CatalogTest, ManifestFoldersAreNeitherTablesNorDataFiles) {
  WriteDeltaTable("events");
  fs::create_directories(root_ / "plain");
  Sql("COPY (SELECT 1 AS k) TO '" + (root_ / "plain/f.parquet").string() + "' (FORMAT parquet)");
  Catalog before = CrawlOk();
  bool enabled_now = false;
  auto m = lake::EnableSymlinkManifest(store_.get(), "events", conn_.get(), &enabled_now);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_TRUE(fs::exists(root_ / "events/_symlink_format_manifest/date=2026-01-05/manifest"));
  // A manifest-like folder in a Parquet folder is hidden too.
  fs::create_directories(root_ / "plain/_symlink_format_manifest");
  std::ofstream(root_ / "plain/_symlink_format_manifest/manifest") << "/x.parquet\n";
  Catalog after = CrawlOk();
  ASSERT_EQ(after.tables.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after.tables[i].name, before.tables[i].name);
    EXPECT_EQ(after.tables[i].file_count, before.tables[i].file_count);
    EXPECT_EQ(after.tables[i].row_count, before.tables[i].row_count);
    EXPECT_EQ(after.tables[i].problems, before.tables[i].problems);
  }
  EXPECT_EQ(after.Find("events")->delta_version, before.Find("events")->delta_version + 1);
}

TEST(ClassifySchemaChange, AddedIsCompatibleDroppedOrRetypedIsBreaking) {
  std::vector<Column> a = {{"x", "INTEGER"}, {"y", "VARCHAR"}};
  std::vector<std::string> d;
  EXPECT_EQ(ClassifySchemaChange(a, a, &d), ChangeKind::kInitial);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(ClassifySchemaChange(a, {{"x", "INTEGER"}, {"y", "VARCHAR"}, {"z", "DOUBLE"}}, &d),
            ChangeKind::kCompatible);
  d.clear();
  EXPECT_EQ(ClassifySchemaChange(a, {{"x", "BIGINT"}, {"y", "VARCHAR"}}, &d),
            ChangeKind::kBreaking);
  d.clear();
  EXPECT_EQ(ClassifySchemaChange(a, {{"x", "INTEGER"}, {"z", "DOUBLE"}}, &d),
            ChangeKind::kBreaking);
  EXPECT_EQ(d.size(), 2u);
}

// The catalog edge: the type a Delta column is cataloged as is the one DuckDB's DESCRIBE gives a
// column of that type (so a Delta table and a Parquet copy of it catalog alike), and every one has
// a Hive / Glue type.
TEST(CatalogTypes, EveryLogicalTypeHasItsDescribeNameAndAHiveType) {
  const std::map<LogicalType, std::string> hive = {{LogicalType::kString, "string"},
                                                   {LogicalType::kInt32, "int"},
                                                   {LogicalType::kInt64, "bigint"},
                                                   {LogicalType::kDouble, "double"},
                                                   {LogicalType::kTimestamp, "timestamp"},
                                                   {LogicalType::kBool, "boolean"},
                                                   {LogicalType::kDate, "date"}};
  auto db = engine::Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  for (LogicalType t : kAllLogicalTypes) {
    SCOPED_TRACE(std::string(LogicalTypeName(t)));
    auto d = (*conn)->Query("DESCRIBE SELECT CAST(NULL AS " + std::string(engine::SqlTypeName(t)) +
                            ") AS x");
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(d->GetString(static_cast<size_t>(d->ColumnIndex("column_type")), 0),
              CatalogTypeName(t));
    EXPECT_EQ(HiveType(CatalogTypeName(t)), hive.at(t));
    // The Delta name of the same type reads back as it (lake edge), so a crawl of the log sees t.
    auto parsed = lake::ParseDeltaType(lake::DeltaTypeName(t));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, t);
  }
}

}  // namespace
}  // namespace smartcity::catalog
