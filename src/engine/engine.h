// Embedded DuckDB, wrapped once. Database and Connection own DuckDB handles (RAII, move-only);
// Query() returns a materialised QueryResult with typed access; Appender loads columnar data
// (RecordBatch columns) or rows into a table much faster than INSERT statements;
// CopyToParquet() writes RecordBatch rows to a Parquet file with no table in between.
//
// Errors: every duckdb_state is checked; a failure becomes a Status whose message names what was
// being done and carries DuckDB's own error text ("query failed: Catalog Error: Table x does not
// exist").
//
// Thread-safety: a Database may be shared by many threads, each with its own Connection. A
// Connection, its QueryResults and Appenders are used by one thread at a time. A Connection must
// outlive the Appenders made from it, and a Database the Connections made from it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/record_batch.h"
#include "common/status.h"
#include "common/time.h"

// Opaque DuckDB handles (duckdb.h is included only by engine.cc), named as duckdb.h names them.
// NOLINTBEGIN(bugprone-reserved-identifier)
struct _duckdb_database;
struct _duckdb_connection;
struct _duckdb_appender;
struct _duckdb_data_chunk;
struct _duckdb_prepared_statement;
// NOLINTEND(bugprone-reserved-identifier)

namespace smartcity::engine {

class Connection;

// How Connection::CopyToParquet writes a file: values go into DuckDB's COPY … (FORMAT parquet).
// The rest stays at DuckDB's defaults, measured on bench/lake_bench (bench/RESULTS.md): bloom
// filters cost < 1% and can spare readers a file on equality filters; Parquet V2 pages would save
// ~7% CPU and 12% bytes but change the page format and encodings other readers must support.
// A Parquet column's field id (the schema element's field_id, what Apache Iceberg readers match
// columns by).
struct ParquetFieldId {
  std::string column;
  int id = 0;
};

struct ParquetCopyOptions {
  std::string compression = "zstd";
  int compression_level = 1;
  uint64_t row_group_rows = 122880;
  // Dictionary-encode columns (DuckDB's default: it builds each column chunk's dictionary and
  // keeps it when it pays). false writes every column PLAIN (DICTIONARY_SIZE_LIMIT 1): the
  // dictionary work was ~20% of the stream processor's lake writes, for ~4% smaller files.
  bool dictionary = true;
  // Field ids of written columns, by name (FIELD_IDS); a column not named gets none. Every name
  // must be a column of what is written.
  std::vector<ParquetFieldId> field_ids;
};

// The options clause of a COPY … TO that writes Parquet this way: "FORMAT parquet, COMPRESSION
// 'zstd', ROW_GROUP_SIZE 122880, COMPRESSION_LEVEL 1". CopyToParquet uses it, and so does any COPY
// of a query's result that should write files the same way (compaction).
std::string ParquetCopyOptionsSql(const ParquetCopyOptions& options);

struct DatabaseOptions {
  // DuckDB settings applied at open, e.g. {"threads", "2"}, {"memory_limit", "1GB"}.
  std::map<std::string, std::string> settings;
};

// For a DuckDB that runs beside the stream with a share of --memory-limit: its allocator hands
// freed memory back to the system soon. DuckDB's allocator keeps up to 128 MiB per thread (512 MiB
// after bulk frees) before it does, and it purges only from the thread that freed (its background
// purge threads do not run in this build: the allocator_background_threads setting leaves them
// off), so the thresholds are what bounds its slack. The allocator is the process's: the lowest
// threshold of the process's databases applies to all of them.
void HandBackFreedMemorySoon(DatabaseOptions* options);

class Database {
 public:
  // Opens (creating if needed) a database file, or an in-memory database for path "" or ":memory:".
  // Registers the internal table function that Connection::CopyToParquet scans.
  static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                const DatabaseOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Result<std::unique_ptr<Connection>> Connect();

 private:
  Database() = default;
  _duckdb_database* db_ = nullptr;
  std::string path_;
  std::filesystem::path temp_dir_;  // an in-memory database's spill folder, removed at close
};

// A fully materialised query result. Typed getters convert like DuckDB's casts; REQUIRES:
// !IsNull().
// How a result's values are read. kValues: as the nearest LogicalType (the loaders' and tools'
// form). kDisplay: for showing a result to a person (`smartcity sql`): every DuckDB type is read —
// a column of a type with no LogicalType (LIST, STRUCT, MAP, ARRAY, BLOB, TIME, TIME WITH TIME
// ZONE, INTERVAL, UUID, ENUM, ...) and the numbers a double or an int64 would change (HUGEINT,
// UHUGEINT, UBIGINT, DECIMAL) become kString columns with the value as text
// (QueryResult::is_number_text tells the numbers apart). Text forms: lists [1, 2], structs {'a': 1,
// 'b': 'x'}, maps {k=v}, strings inside them quoted with '' for a quote; BLOB bytes outside
// printable ASCII as \xNN; TIME 12:34:56.5; INTERVAL "1 year 2 months 3 days 04:05:06"; NaN,
// Infinity, -Infinity.
enum class ResultForm { kValues, kDisplay };

class QueryResult {
 public:
  ~QueryResult();
  QueryResult(QueryResult&& o) noexcept;
  QueryResult& operator=(QueryResult&& o) noexcept;
  QueryResult(const QueryResult&) = delete;
  QueryResult& operator=(const QueryResult&) = delete;

  size_t row_count() const { return rows_; }
  size_t column_count() const { return columns_; }
  std::string column_name(size_t col) const;
  // The column's type (DuckDB's types read as the nearest LogicalType; a query whose result has a
  // type with none, such as a LIST, fails with kInvalidArgument, except in a kDisplay result where
  // such a column is kString holding DuckDB's value as text).
  LogicalType column_type(size_t col) const;
  // kDisplay results: the column holds numbers as exact decimal text (HUGEINT, UHUGEINT, UBIGINT,
  // DECIMAL), typed kString.
  bool is_number_text(size_t col) const;
  // Index of the named column, or -1.
  int ColumnIndex(std::string_view name) const;

  bool IsNull(size_t col, size_t row) const;
  bool GetBool(size_t col, size_t row) const;
  int64_t GetInt64(size_t col, size_t row) const;  // kDate: days since 1970-01-01
  double GetDouble(size_t col, size_t row) const;
  std::string GetString(size_t col, size_t row) const;
  // Microseconds since the epoch for kTimestamp columns (TIMESTAMP / TIMESTAMP WITH TIME ZONE).
  EventTime GetTimestamp(size_t col, size_t row) const;

 private:
  friend class Connection;
  friend class PreparedStatement;
  QueryResult();
  // Copies a successful result (a duckdb_result*, opaque here) out of DuckDB and destroys it.
  static Result<QueryResult> Materialize(void* duckdb_result_ptr, ResultForm form);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t rows_ = 0;
  size_t columns_ = 0;
};

class Appender;
class PreparedStatement;

class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements; the result is that of the last one.
  Result<QueryResult> Query(std::string_view sql);
  // Runs statements whose result is not needed.
  Status Execute(std::string_view sql);
  // Asks the statement running on this connection (if any) to stop: it fails with kAborted
  // ("INTERRUPT Error"). Safe to call from another thread while the connection is in use.
  void Interrupt();
  // An appender to `table` (in the default schema).
  Result<std::unique_ptr<Appender>> MakeAppender(const std::string& table);
  // Splits a script into its statements and prepares (binds) each one without running any, so a
  // caller can check every statement's type before the first one runs. Fails on the first
  // statement that does not parse or bind (unknown table, bad SQL).
  Result<std::vector<std::unique_ptr<PreparedStatement>>> PrepareScript(std::string_view sql);

  // Writes rows [begin, end) of the given columns of `batch`, in order, to the Parquet file `path`
  // (overwritten) by `COPY (FROM <scan of the rows>) TO path (FORMAT parquet, …)`: DuckDB reads the
  // rows straight from the batch, no table is filled. The file's columns are named after the
  // schema's columns; types as Appender::AppendColumns (timestamp → TIMESTAMPTZ, i.e. Parquet INT64
  // TIMESTAMP(MICROS, isAdjustedToUTC=true)). `batch` must not change during the call.
  // Rows or columns outside the batch are an InvalidArgument error.
  Status CopyToParquet(const RecordBatch& batch, std::span<const int> columns, size_t begin,
                       size_t end, const std::string& path, const ParquetCopyOptions& options = {});
  // The same for the rows of several batches of one schema, one range after the other, as if they
  // were one batch (no copy into one). The first range's batch gives the file's columns, so an
  // empty list is an InvalidArgument error, as is a batch of another schema than the first's.
  Status CopyToParquet(std::span<const RowRange> ranges, std::span<const int> columns,
                       const std::string& path, const ParquetCopyOptions& options = {});

 private:
  friend class Database;
  Connection() = default;
  Status CopyRangesToParquet(const Schema& schema, std::span<const RowRange> ranges,
                             std::span<const int> columns, const std::string& path,
                             const ParquetCopyOptions& options);
  _duckdb_connection* conn_ = nullptr;
};

// One prepared statement of a script (Connection::PrepareScript). Used by the thread that owns the
// connection; the connection must outlive it.
class PreparedStatement {
 public:
  ~PreparedStatement();
  PreparedStatement(const PreparedStatement&) = delete;
  PreparedStatement& operator=(const PreparedStatement&) = delete;

  // True for a query that only reads: SELECT, WITH ... SELECT, FROM-first, VALUES (not EXPLAIN:
  // EXPLAIN ANALYZE runs the explained statement).
  bool IsQuery() const;
  // The statement's kind as DuckDB classifies it: "SELECT", "DROP", "COPY", "ATTACH", ...
  std::string TypeName() const;
  Result<QueryResult> Execute(ResultForm form = ResultForm::kValues);

 private:
  friend class Connection;
  PreparedStatement() = default;
  _duckdb_prepared_statement* stmt_ = nullptr;
  int type_ = 0;  // duckdb_statement_type
};

// Appends to one table. Data becomes visible to queries at Flush() / Close() (and when internal
// buffers fill). Close() reports errors; the destructor closes silently.
class Appender {
 public:
  ~Appender();
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  // Appends rows [begin, end) of the given columns of `batch`, in order, as the table's columns.
  // REQUIRES: the table has exactly columns.size() columns whose types match the batch's
  // (string→VARCHAR, int32→INTEGER, int64→BIGINT, double→DOUBLE, timestamp→TIMESTAMPTZ,
  // bool→BOOLEAN).
  Status AppendColumns(const RecordBatch& batch, std::span<const int> columns, size_t begin,
                       size_t end);

  Status Flush();
  Status Close();

 private:
  friend class Connection;
  Appender() = default;
  Status Check(int state, std::string_view what);
  _duckdb_appender* app_ = nullptr;
  std::string table_;
  // Chunk reused across calls, rebuilt when the column types of a call differ.
  _duckdb_data_chunk* chunk_ = nullptr;
  std::vector<LogicalType> chunk_types_;
};

// The name of the internal table function behind Connection::CopyToParquet. It takes one token
// that only a CopyToParquet call in progress hands out; any other value is a clean bind error, so
// `smartcity sql` users cannot make it read memory.
inline constexpr std::string_view kRowScanFunction = "smartcity_batch_rows";

// SQL text helpers.
// 'it''s' — a string literal.
std::string QuoteLiteral(std::string_view s);
// "col ""x""" — an identifier.
std::string QuoteIdentifier(std::string_view s);
// The engine edge of LogicalType in SQL: the DuckDB type name of a column type ("VARCHAR",
// "TIMESTAMPTZ", "DATE", ...). A column cast to SqlTypeName(t) reads back as column_type() == t.
std::string_view SqlTypeName(LogicalType t);

}  // namespace smartcity::engine
