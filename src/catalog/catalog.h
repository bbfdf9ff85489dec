// The lake catalog (SPEC section 5, "the Glue crawler on one machine"): what tables a lake root
// holds, where, in which format, with which columns, partitions, sizes and schema history.
//
// Crawl() walks a lake root through its ObjectStore and finds three kinds of table:
//   - Delta tables (a folder with `_delta_log/`): schema, partition columns, active files and row
//     counts come from the log (DeltaLog::Load), never from listing the folder;
//   - Hive-partitioned Parquet folders (`k=v/` sub-folders) and plain Parquet folders written by
//     anyone: schemas and row counts come from each file's Parquet footer (read through DuckDB).
// Files that are not Parquet, or Parquet that cannot be read, are reported on the table
// (`problems`) and left out; a crawl never fails because of one bad folder.
//
// The catalog is a versioned JSON document (docs/catalog.md), stored by default as the object
// `_catalog/catalog.json` in the lake root (so an S3 lake keeps its catalog beside it). A re-crawl
// is compared with the previous document (Diff): new and vanished tables, new partitions, added
// columns (compatible) and dropped columns / type changes (breaking); every schema a table has had
// is kept in `schema_versions`.
//
// Column types are DuckDB SQL type names (VARCHAR, INTEGER, BIGINT, DOUBLE, BOOLEAN, DATE,
// TIMESTAMP WITH TIME ZONE, ...): the types `smartcity sql` shows. Exports map them to Hive/Athena
// and Glue types.
//
// Thread-safety: plain values and free functions; Crawl uses the given connection from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"

namespace smartcity::catalog {

inline constexpr int kCatalogFormatVersion = 1;
inline constexpr std::string_view kDefaultCatalogKey = "_catalog/catalog.json";

struct Column {
  std::string name;
  std::string type;  // DuckDB type name
  bool operator==(const Column&) const = default;
};

enum class ChangeKind { kInitial, kCompatible, kBreaking };
std::string_view ChangeKindName(ChangeKind k);  // "initial", "compatible", "breaking"

struct SchemaVersion {
  int version = 1;
  std::vector<Column> columns;  // data columns, then partition columns
  std::string since;            // ISO-8601 UTC time the crawler first saw this schema
  ChangeKind change = ChangeKind::kInitial;
  std::vector<std::string> details;  // "added column x DOUBLE", "column y: INTEGER -> VARCHAR"
};

struct Partition {
  // Partition column -> value as text (nullopt: null / __HIVE_DEFAULT_PARTITION__).
  std::map<std::string, std::optional<std::string>> values;
  int64_t files = 0;
  int64_t rows = 0;
  int64_t bytes = 0;
  // "date=2026-01-05/hour=7": the Hive-style folder of the partition below the table.
  std::string Path(const std::vector<std::string>& partition_columns) const;
};

// A Parquet data file of a non-Delta table (Delta tables take their files from the log).
struct DataFile {
  std::string path;  // relative to the table root
  int64_t rows = 0;
  int64_t bytes = 0;
};

struct TableEntry {
  std::string name;      // SQL name: the table's folder path with '/' -> '_'
  std::string prefix;    // the table's key prefix in the lake store ("" = the lake root itself)
  std::string location;  // where other readers find it (ObjectStore::ReaderUri of the prefix)
  std::string format;    // "delta", "hive-parquet" or "parquet"
  std::vector<Column> columns;            // current data columns (no partition columns)
  std::vector<Column> partition_columns;  // in partition order
  std::vector<Partition> partitions;      // sorted by path
  int64_t file_count = 0;
  int64_t row_count = 0;
  int64_t size_bytes = 0;
  std::string last_modified;   // ISO-8601 UTC: newest commit (Delta) or newest data file
  int64_t delta_version = -1;  // Delta tables: the crawled version
  // Delta tables that also have Iceberg metadata (lake/iceberg.h): the newest metadata file,
  // relative to the table ("metadata/v3.metadata.json"); empty if none.
  std::string iceberg_metadata;
  std::vector<DataFile> files;                 // non-Delta tables: the readable Parquet files
  std::vector<SchemaVersion> schema_versions;  // oldest first; the last is the current schema
  std::vector<std::string> problems;  // unreadable / mixed files, log errors: reported, not fatal
  // Its metadata (a Delta log) could not be read in this crawl: nothing above is known now, so
  // MergeWithPrevious keeps the previous crawl's facts (not saved; `problems` says why).
  bool unreadable = false;

  // Data columns followed by partition columns: the columns a SQL view of the table has.
  std::vector<Column> AllColumns() const;
  const Column* FindColumn(std::string_view name) const;
};

struct Catalog {
  int format_version = kCatalogFormatVersion;
  std::string lake;                // the lake location as given to crawl
  std::string crawled_at;          // ISO-8601 UTC
  std::vector<TableEntry> tables;  // sorted by name

  const TableEntry* Find(std::string_view name) const;
};

std::string ToJson(const Catalog& c);
Result<Catalog> CatalogFromJson(std::string_view text);

// Where the catalog lives: a local file (--catalog) or an object in the lake store.
// Load returns kNotFound when there is no catalog yet.
Result<Catalog> LoadCatalog(lake::ObjectStore* lake, const std::string& local_path);
Status SaveCatalog(const Catalog& c, lake::ObjectStore* lake, const std::string& local_path);

// Walks every object of `store` below the lake root and catalogs each table found. `conn` reads
// Parquet footers. `lake_location` is recorded as Catalog::lake. Never fails for a bad table (its
// problems are recorded); fails only when the store cannot be listed.
Result<Catalog> Crawl(lake::ObjectStore* store, engine::Connection* conn,
                      const std::string& lake_location);

// What changed between two crawls.
struct TableChange {
  std::string table;
  std::string what;  // "new table", "new partition date=...", "added column x DOUBLE", ...
  bool breaking = false;
};
struct CrawlDiff {
  std::vector<TableChange> changes;
  bool any_breaking() const;
};

// Compares `current` with `previous` (if any), records the change in `current` (schema versions
// carried over from `previous`, a new version appended when the schema changed) and returns the
// list of changes for the report.
CrawlDiff MergeWithPrevious(const Catalog* previous, Catalog* current);

// Classifies the change from schema `from` to schema `to`: added columns are compatible; a dropped
// column or a type change is breaking. Empty details means equal.
ChangeKind ClassifySchemaChange(const std::vector<Column>& from, const std::vector<Column>& to,
                                std::vector<std::string>* details);

// The catalog edge of the one logical type (common/logical_type.h). A catalog column's type is
// the name DuckDB's DESCRIBE gives it, so that a Delta table (typed from its log) and a plain
// Parquet table (typed by DESCRIBE) compare alike: CatalogTypeName(t) is DESCRIBE's name for a
// column of engine::SqlTypeName(t) (kTimestamp -> "TIMESTAMP WITH TIME ZONE").
std::string CatalogTypeName(LogicalType t);

// Hive / Athena / Glue type of a catalog type ("VARCHAR" -> "string", "TIMESTAMP WITH TIME ZONE"
// -> "timestamp", "DECIMAL(10,2)" -> "decimal(10,2)"). Takes any DuckDB type name, not only those
// of a LogicalType: a plain Parquet table can have any.
std::string HiveType(std::string_view duckdb_type);

struct ExportOptions {
  // Replaces the lake root in locations ("s3://bucket/prefix"); required for a local lake.
  std::string s3_location;
  std::string database = "smartcity";
};
// Athena DDL: a Delta table natively (CREATE EXTERNAL TABLE ... LOCATION ... TBLPROPERTIES
// ('table_type'='DELTA'), no columns: Athena reads the schema, partitions and the snapshot's files
// from the log); a Parquet folder as Parquet (columns, PARTITIONED BY, ALTER TABLE ... ADD
// PARTITION per partition).
Result<std::string> ExportAthena(const Catalog& c, const ExportOptions& o);
// A JSON array of Glue CreateTable requests: {"DatabaseName":..., "TableInput":{...}}. A table
// with Iceberg metadata in the Iceberg form (Parameters table_type=ICEBERG, metadata_location =
// its newest metadata file: Glue's registration of an existing Iceberg table). A Delta
// table in the native Delta form (Parameters table_type=DELTA, spark.sql.sources.provider=delta;
// Location; the log's columns; no partition keys, no Parquet input format); a Parquet folder as a
// Parquet table with its PartitionKeys.
Result<std::string> ExportGlue(const Catalog& c, const ExportOptions& o);
// Redshift Spectrum DDL: a Delta table through its symlink manifests (SymlinkTextInputFormat,
// LOCATION <table>/_symlink_format_manifest/, partitions at its sub-folders; the manifests are
// written by lake::EnableSymlinkManifest, not here); a Parquet folder as Parquet. The CREATE
// EXTERNAL SCHEMA statement is a comment (it needs the user's IAM role).
Result<std::string> ExportSpectrum(const Catalog& c, const ExportOptions& o);

}  // namespace smartcity::catalog
