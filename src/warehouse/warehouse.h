// The warehouse side of `smartcity load`: a small connection interface to a SQL warehouse (embedded
// DuckDB file, PostgreSQL, Redshift), the SQL dialect of each, and the bookkeeping table that makes
// loads exactly once (docs/warehouse.md).
//
// A WarehouseConnection is one session: Begin/Commit/Rollback bracket a transaction; Execute runs
// statements; Query returns rows as text; CopyBatch bulk-loads the rows of a columnar batch into a
// table (DuckDB appender, PostgreSQL COPY). Redshift cannot take rows from us cheaply and instead
// copies Parquet files from S3 (CopyParquetFiles).
//
// Errors: kUnavailable when the warehouse cannot be reached or the session broke (the loader
// reconnects and retries with backoff; whatever was in the open transaction is rolled back by the
// server), kInvalidArgument for a refused statement or a bad target, kCorruption for a duplicate
// key.
//
// Thread-safety: a connection is used by one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/record_batch.h"
#include "common/status.h"

namespace smartcity::warehouse {

enum class DialectKind { kDuckDb, kPostgres, kRedshift };

// How one warehouse spells types and DDL. Pure functions (unit-tested without a server).
class Dialect {
 public:
  explicit Dialect(DialectKind kind) : kind_(kind) {}
  DialectKind kind() const { return kind_; }

  // The warehouse edge of the one logical type (common/logical_type.h): the DDL type of a column
  // of type t, and the type of a column whose information_schema.columns.data_type is `reported`
  // (nullopt: none of ours, as for a column someone created by hand as NUMERIC).
  // LogicalTypeOf(reported) == t for every name the warehouse reports for TypeName(t).
  std::string TypeName(LogicalType t) const;
  std::optional<LogicalType> LogicalTypeOf(std::string_view reported) const;
  // Whether a column the warehouse reports as `reported` holds type t.
  bool SameType(std::string_view reported, LogicalType t) const {
    return LogicalTypeOf(reported) == t;
  }
  // CREATE TABLE IF NOT EXISTS with NOT NULLs, the key `key` (if any: PRIMARY KEY when its columns
  // are NOT NULL, else UNIQUE — NULLS NOT DISTINCT on PostgreSQL) and, where the warehouse has
  // them, indexes on `index_columns` (Redshift: DISTKEY on the device column, SORTKEY instead).
  // Every name is the warehouse's (warehouse/names.h).
  std::vector<std::string> CreateTable(const std::string& table, const Schema& schema,
                                       const std::vector<std::string>& key,
                                       const std::vector<std::string>& index_columns) const;
  std::string AddColumn(const std::string& table, const ColumnSpec& column) const;
  std::string CreateBookkeeping() const;

 private:
  DialectKind kind_;
};

// The bookkeeping table: one row per load transaction; the highest delta_version of a table is
// what the warehouse holds of it.
inline constexpr std::string_view kLoadsTable = "_smartcity_loads";

// An existing column as the warehouse reports it.
struct WarehouseColumn {
  std::string name;
  std::string data_type;  // information_schema.columns.data_type
};

// The columns of a warehouse table, in its order: the lake column each is loaded from (its name
// and type in the lake) and its name in the warehouse (warehouse/names.h; a table created before
// those names keeps the lake's).
struct TargetColumns {
  Schema lake;
  std::vector<std::string> names;
};

// A Parquet data file of the lake for CopyParquetFiles.
struct ParquetFile {
  std::string uri;  // s3://bucket/key
  // Partition columns: not in the file; name -> value (nullopt = NULL).
  std::vector<std::pair<std::string, std::optional<std::string>>> partition_values;
};

// The SELECT list that reads one lake data file (DuckDB's read_parquet) as the columns of `schema`,
// in order: a partition column from its value in the Delta log, a column the file lacks (written
// before the column was added) as NULL, the others cast to the warehouse type. Timestamps are
// microseconds since the epoch (BIGINT) for a reader that hands them on, or TIMESTAMPTZ for an
// INSERT in DuckDB.
enum class TimestampAs { kEpochMicros, kTimestampTz };
std::string LakeFileSelectList(
    const Schema& schema,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& partition_values,
    const std::vector<std::string>& file_columns, TimestampAs timestamps);

class WarehouseConnection {
 public:
  virtual ~WarehouseConnection() = default;

  virtual const Dialect& dialect() const = 0;
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
  virtual Status Execute(std::string_view sql) = 0;
  // Rows of the result as text (NULL = nullopt).
  virtual Result<std::vector<std::vector<std::optional<std::string>>>> Query(
      std::string_view sql) = 0;
  // Appends every row of `batch` to `table`, whose columns are the batch's (by name), in order.
  virtual Status CopyBatch(const std::string& table, const RecordBatch& batch) = 0;
  // True if the warehouse loads from the lake's files itself (Redshift).
  virtual bool CopiesFiles() const { return false; }
  // True if the warehouse can read the lake's files itself when they are local files (an embedded
  // DuckDB warehouse): then the loader hands it the files instead of reading their rows.
  virtual bool ReadsLocalFiles() const { return false; }
  // Loads the given Parquet files into `table` (its columns `columns`; partition columns from the
  // file's values). Only for CopiesFiles() warehouses, and ReadsLocalFiles() ones on a local lake.
  virtual Status CopyParquetFiles(const std::string& table, const TargetColumns& columns,
                                  const std::vector<ParquetFile>& files) {
    return Status::Internal("this warehouse does not copy files itself");
  }
  // "PostgreSQL at host=127.0.0.1 port=5433 dbname=x", for messages.
  virtual std::string Describe() const = 0;

  // Helpers over the virtuals above.
  // Columns of `table` in order; empty if the table does not exist.
  Result<std::vector<WarehouseColumn>> Columns(const std::string& table);
  // The Delta version of `lake_table` the warehouse holds; -1 if none.
  Result<int64_t> LoadedVersion(const std::string& lake_table);
};

// Opens a warehouse named by the user:
//   duckdb:<file>               embedded DuckDB file (created if missing)
//   postgres://... / postgresql://...  or  postgres:<libpq conninfo> or "postgres:" (PG* variables)
//   redshift://user:pass@host:5439/db?iam_role=arn:aws:iam::...   (Redshift, COPY from S3)
// kInvalidArgument for an unknown scheme; kUnavailable if the server cannot be reached.
struct WarehouseOpenOptions {
  // An embedded DuckDB warehouse's memory_limit (e.g. "64MiB"; its buffer pool caches the tables'
  // blocks up to it); "" = DuckDB's default (80% of the machine's memory). Others ignore it.
  std::string duckdb_memory_limit;
};
Result<std::unique_ptr<WarehouseConnection>> OpenWarehouse(
    const std::string& spec, const WarehouseOpenOptions& options = {});

// Whether `spec` can name a warehouse, without connecting: a known scheme, a DuckDB file whose
// folder exists (and that is not a folder itself), a Redshift URL with its IAM role, a PostgreSQL
// or Redshift connection string that libpq can parse. kInvalidArgument naming the problem and the
// fix otherwise (a command checks it before it starts).
Status CheckWarehouseSpec(const std::string& spec);

// Whether a retry can fix a failure to open or use a warehouse session: the message of a libpq or
// DuckDB failure, classified. Permanent: a database, role or file that does not exist, rejected
// credentials, a refused host (pg_hba.conf), a malformed connection string, a file that is not a
// database. Everything else (refused or timed-out connections, a server starting up or shutting
// down, a DuckDB file locked by another process) is transient.
bool IsPermanentConnectFailure(std::string_view message);

// The DuckDB warehouse file of a spec, if it is one (the loader in `run` uses it).
std::optional<std::string> DuckDbPath(const std::string& spec);

}  // namespace smartcity::warehouse
