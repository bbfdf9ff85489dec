#include "lake/parquet_writer.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <utility>

namespace smartcity::lake {

using nlohmann::json;

std::string StatsTimestamp(int64_t micros, bool round_up) {
  int64_t ms = micros / 1000;
  if (micros % 1000 != 0) {
    if (micros < 0 && !round_up) --ms;
    if (micros > 0 && round_up) ++ms;
  }
  std::string full = FormatTimestamp(EventTime(Micros(ms * 1000)));  // "...SS.mmm000Z"
  return full.substr(0, 23) + "Z";
}

std::string_view Utf8Prefix(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

std::string FileStats::ToDeltaJson() const {
  nlohmann::ordered_json mins = nlohmann::ordered_json::object(),
                         maxs = nlohmann::ordered_json::object(),
                         nulls = nlohmann::ordered_json::object();
  for (const ColumnStats& c : columns) {
    if (!c.min.is_null()) mins[c.name] = c.min;
    if (!c.max.is_null()) maxs[c.name] = c.max;
    nulls[c.name] = c.null_count;
  }
  return nlohmann::ordered_json{
      {"numRecords", num_records}, {"minValues", mins}, {"maxValues", maxs}, {"nullCount", nulls}}
      .dump();
}

namespace {

// Calls fn(value) for each non-null value of column `ci` in `ranges`, in order; fn returns false
// to stop. `get` reads one value of a column.
template <typename Get, typename Fn>
void ForEachValue(std::span<const RowRange> ranges, int ci, Get get, Fn fn) {
  for (const RowRange& rr : ranges) {
    const Column& col = rr.batch->column(static_cast<size_t>(ci));
    for (size_t r = rr.begin; r < rr.end; ++r) {
      if (!col.IsNull(r) && !fn(get(col, r))) return;
    }
  }
}

// The least and greatest non-null value of a column (REQUIRES: it has one).
template <typename T, typename Get>
std::pair<T, T> Bounds(std::span<const RowRange> ranges, int ci, Get get) {
  bool any = false;
  T lo{}, hi{};
  ForEachValue(ranges, ci, get, [&](T v) {
    if (!any || v < lo) lo = v;
    if (!any || hi < v) hi = v;
    any = true;
    return true;
  });
  return {lo, hi};
}

}  // namespace

FileStats ComputeStats(const RecordBatch& batch, std::span<const int> columns, size_t begin,
                       size_t end) {
  const RowRange range{&batch, begin, end};
  return ComputeStats(std::span(&range, 1), columns);
}

FileStats ComputeStats(std::span<const RowRange> ranges, std::span<const int> columns) {
  FileStats st;
  st.num_records = static_cast<int64_t>(CountRows(ranges));
  if (ranges.empty()) return st;
  const Schema& schema = ranges.front().batch->schema();
  for (int ci : columns) {
    ColumnStats cs;
    cs.name = schema.columns[static_cast<size_t>(ci)].name;
    for (const RowRange& rr : ranges) {
      const Column& col = rr.batch->column(static_cast<size_t>(ci));
      for (size_t r = rr.begin; r < rr.end; ++r) cs.null_count += col.IsNull(r) ? 1 : 0;
    }
    if (cs.null_count == st.num_records) {
      st.columns.push_back(std::move(cs));
      continue;
    }
    switch (schema.columns[static_cast<size_t>(ci)].type) {
      case LogicalType::kString: {
        auto [lo, hi] = Bounds<std::string_view>(
            ranges, ci, [](const Column& c, size_t r) { return c.GetString(r); });
        cs.min = std::string(Utf8Prefix(lo, kMaxStatStringBytes));
        if (hi.size() <= kMaxStatStringBytes) cs.max = std::string(hi);
        break;
      }
      case LogicalType::kInt32: {
        auto [lo, hi] =
            Bounds<int32_t>(ranges, ci, [](const Column& c, size_t r) { return c.GetInt32(r); });
        cs.min = lo;
        cs.max = hi;
        break;
      }
      case LogicalType::kDate: {  // Delta writes date bounds as "2026-01-05"
        auto [lo, hi] =
            Bounds<int32_t>(ranges, ci, [](const Column& c, size_t r) { return c.GetDate(r); });
        cs.min = FormatDate(lo);
        cs.max = FormatDate(hi);
        break;
      }
      case LogicalType::kInt64:
      case LogicalType::kTimestamp: {
        auto [lo, hi] =
            Bounds<int64_t>(ranges, ci, [](const Column& c, size_t r) { return c.GetInt64(r); });
        if (schema.columns[static_cast<size_t>(ci)].type == LogicalType::kTimestamp) {
          cs.min = StatsTimestamp(lo, false);
          cs.max = StatsTimestamp(hi, true);
        } else {
          cs.min = lo;
          cs.max = hi;
        }
        break;
      }
      case LogicalType::kDouble: {
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        bool finite = true;
        ForEachValue(
            ranges, ci, [](const Column& c, size_t r) { return c.GetDouble(r); },
            [&](double v) {
              if (!std::isfinite(v)) {
                finite = false;  // NaN / ±inf have no JSON form; leave the bounds out
                return false;
              }
              lo = std::min(lo, v);
              hi = std::max(hi, v);
              return true;
            });
        if (finite) {
          cs.min = lo;
          cs.max = hi;
        }
        break;
      }
      case LogicalType::kBool: {
        bool lo = true, hi = false;
        ForEachValue(
            ranges, ci, [](const Column& c, size_t r) { return c.GetBool(r); },
            [&](bool v) {
              lo = lo && v;
              hi = hi || v;
              return true;
            });
        cs.min = lo;
        cs.max = hi;
        break;
      }
    }
    st.columns.push_back(std::move(cs));
  }
  return st;
}

engine::ParquetCopyOptions CopyOptionsOf(const ParquetWriterOptions& options) {
  engine::ParquetCopyOptions copy;
  copy.compression = options.compression;
  copy.compression_level = options.compression_level;
  copy.row_group_rows = options.row_group_rows;
  copy.dictionary = options.dictionary;
  return copy;
}

engine::DatabaseOptions WriterDatabaseOptions() {
  engine::DatabaseOptions o;
  o.settings["threads"] = "1";
  // A writer's working set is one row group per file: what it frees goes back soon. (With the
  // allocator's defaults, a 2.68 M-event drain peaked at 898-981 MiB; with 16 MiB thresholds at
  // 828-840 MiB, at the same speed.)
  engine::HandBackFreedMemorySoon(&o);
  // Compaction reads each small file once: DuckDB's cache of file contents would only keep a
  // record of every file ever read (they add up over a long run).
  o.settings["enable_external_file_cache"] = "false";
  return o;
}

Result<std::unique_ptr<ParquetWriter>> ParquetWriter::Make(engine::Database* db,
                                                           ParquetWriterOptions options) {
  std::unique_ptr<ParquetWriter> w(new ParquetWriter());
  SC_ASSIGN_OR_RETURN(w->conn_, db->Connect());
  w->options_ = std::move(options);
  return w;
}

ParquetWriter::~ParquetWriter() = default;

Result<FileStats> ParquetWriter::Write(const RecordBatch& batch, std::span<const int> columns,
                                       size_t begin, size_t end, const std::filesystem::path& path,
                                       std::span<const engine::ParquetFieldId> field_ids) {
  if (end <= begin) return Status::InvalidArgument("no rows to write to a Parquet file");
  const RowRange range{&batch, begin, end};
  return Write(std::span(&range, 1), columns, path, field_ids);
}

Result<FileStats> ParquetWriter::Write(std::span<const RowRange> ranges,
                                       std::span<const int> columns,
                                       const std::filesystem::path& path,
                                       std::span<const engine::ParquetFieldId> field_ids) {
  if (CountRows(ranges) == 0) return Status::InvalidArgument("no rows to write to a Parquet file");
  engine::ParquetCopyOptions copy = CopyOptionsOf(options_);
  copy.field_ids.assign(field_ids.begin(), field_ids.end());
  Status copied = conn_->CopyToParquet(ranges, columns, path.string(), copy);
  if (!copied.ok())
    return copied.WithContext(fmt::format("writing Parquet file {}", path.string()));
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec)
    return Status::IOError(
        fmt::format("cannot stat Parquet file {}: {}", path.string(), ec.message()));
  FileStats st = ComputeStats(ranges, columns);
  st.size_bytes = size;
  return st;
}

}  // namespace smartcity::lake
