// ParquetWriter: RecordBatch rows -> one zstd-compressed Parquet file on local disk, through the
// embedded DuckDB (engine::Connection::CopyToParquet: `COPY … TO … (FORMAT parquet)` scans the
// batch's rows directly, no staging table). Types: string→BYTE_ARRAY UTF8, int32→INT32,
// int64→INT64, double→DOUBLE, bool→BOOLEAN, timestamp→INT64 TIMESTAMP(MICROS,
// isAdjustedToUTC=true), i.e. Delta `timestamp`.
//
// Alongside the file it returns the Delta per-file statistics (numRecords, per-column min/max and
// null counts), computed from the rows in memory while they are at hand.
//
// Ownership: the writer owns one DuckDB connection on a Database that must outlive it.
// Thread-safety: one thread at a time; use one writer per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "common/record_batch.h"
#include "common/status.h"
#include "engine/engine.h"

namespace smartcity::lake {

struct ColumnStats {
  std::string name;
  int64_t null_count = 0;
  nlohmann::json min;  // null when unknown / not collected (all null, NaN, long strings)
  nlohmann::json max;
};

struct FileStats {
  int64_t num_records = 0;
  uint64_t size_bytes = 0;
  std::vector<ColumnStats> columns;
  // The Delta `stats` JSON text.
  std::string ToDeltaJson() const;
};

// Statistics of rows [begin, end) of the given columns. Strings longer than kMaxStatStringBytes get
// a truncated min and no max (a truncated max would not be an upper bound); doubles containing NaN
// get neither. Timestamps are written with millisecond precision, min rounded down and max rounded
// up so the bounds stay valid.
FileStats ComputeStats(const RecordBatch& batch, std::span<const int> columns, size_t begin,
                       size_t end);
// The same for the rows of several batches of one schema, one range after the other.
FileStats ComputeStats(std::span<const RowRange> ranges, std::span<const int> columns);
inline constexpr size_t kMaxStatStringBytes = 32;

// A timestamp bound as Delta stats spell it, to the millisecond ("2026-01-05T10:00:00.123Z"): a
// min (round_up false) rounded down, a max rounded up, so the bound still holds every value.
std::string StatsTimestamp(int64_t micros, bool round_up);
// The longest prefix of `s` of at most `n` bytes that does not split a UTF-8 sequence (a string
// bound cut to kMaxStatStringBytes).
std::string_view Utf8Prefix(std::string_view s, size_t n);

struct ParquetWriterOptions {
  std::string compression = "zstd";
  int compression_level =
      1;  // measured: smaller AND faster than 3 on our tables (bench/lake_bench)
  uint64_t row_group_rows = 122880;
  // See engine::ParquetCopyOptions::dictionary. The stream processor writes without dictionaries
  // (its files are young: `compact` rewrites them with DuckDB's defaults).
  bool dictionary = true;
};

// How engine::Connection::CopyToParquet (or a COPY of a query) writes files with these options.
engine::ParquetCopyOptions CopyOptionsOf(const ParquetWriterOptions& options);

// Options for the Database that lake writers share (the stream processor's): threads=1, and
// DuckDB's allocator hands freed memory back sooner (16 MiB per thread). A COPY of
// one batch is a single pipeline; with a DuckDB worker thread the worker may run it while the
// calling thread spins waiting for it: on the loaded 2-core machine that was 1.7x the CPU and
// 1.6x the time per file (bench/RESULTS.md, "Lake writer"). Writers on several threads still run
// in parallel: each query runs on its caller's thread.
engine::DatabaseOptions WriterDatabaseOptions();

class ParquetWriter {
 public:
  static Result<std::unique_ptr<ParquetWriter>> Make(engine::Database* db,
                                                     ParquetWriterOptions options = {});
  ~ParquetWriter();

  // Writes rows [begin, end) of `columns` of `batch` to `path` (overwritten). The file's column
  // names are the schema's names; `field_ids` gives them Parquet field ids (each name one of the
  // written columns). REQUIRES: end > begin.
  Result<FileStats> Write(const RecordBatch& batch, std::span<const int> columns, size_t begin,
                          size_t end, const std::filesystem::path& path,
                          std::span<const engine::ParquetFieldId> field_ids = {});
  // The same for the rows of several batches of one schema, one range after the other, written as
  // one file without copying them into one batch. REQUIRES: the ranges hold a row.
  Result<FileStats> Write(std::span<const RowRange> ranges, std::span<const int> columns,
                          const std::filesystem::path& path,
                          std::span<const engine::ParquetFieldId> field_ids = {});

  engine::Connection* connection() { return conn_.get(); }

 private:
  ParquetWriter() = default;
  std::unique_ptr<engine::Connection> conn_;
  ParquetWriterOptions options_;
};

}  // namespace smartcity::lake
