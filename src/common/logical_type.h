// LogicalType: the one vocabulary of column types, as DuckDB's LogicalType. A RecordBatch column,
// a model column (model/schema.h), a Delta field, a query result column, a catalog column and a
// warehouse column all carry one; each edge converts to and from its own spelling in one place
// (src/common/README.md lists them):
//   Delta "string"/"integer"/...        lake/delta_log.h      DeltaTypeName / ParseDeltaType
//   DuckDB C API and SQL "VARCHAR"/...  engine/engine.h       SqlTypeName /
//   QueryResult::column_type catalog "TIMESTAMP WITH TIME ZONE"  catalog/catalog.h CatalogTypeName
//   / HiveType PostgreSQL / Redshift / DuckDB DDL  warehouse/warehouse.h Dialect::TypeName /
//   LogicalTypeOf
// Adding a type means adding it here and to each of those conversions (the compiler's -Wswitch
// finds them). A type an edge has that is not here (a DECIMAL result, a Delta "map") is refused at
// that edge with a Status; there is no "other" value.
#pragma once

#include <cstdint>
#include <string_view>

namespace smartcity {

enum class LogicalType : uint8_t {
  kString,  // UTF-8
  kInt32,
  kInt64,
  kDouble,
  kTimestamp,  // an instant: microseconds since the epoch, UTC (Parquet TIMESTAMP(MICROS, UTC);
               // Delta "timestamp"; DuckDB TIMESTAMPTZ). Zone-less timestamps read as UTC.
  kBool,
  kDate,  // a calendar day: days since 1970-01-01, int32 (Parquet DATE; Delta "date")
};

// "string", "int32", "int64", "double", "timestamp", "bool", "date": our own spelling (CLI output,
// error messages, test names).
constexpr std::string_view LogicalTypeName(LogicalType t) {
  switch (t) {
    case LogicalType::kString:
      return "string";
    case LogicalType::kInt32:
      return "int32";
    case LogicalType::kInt64:
      return "int64";
    case LogicalType::kDouble:
      return "double";
    case LogicalType::kTimestamp:
      return "timestamp";
    case LogicalType::kBool:
      return "bool";
    case LogicalType::kDate:
      return "date";
  }
  return "?";
}

inline constexpr LogicalType kAllLogicalTypes[] = {
    LogicalType::kString,    LogicalType::kInt32, LogicalType::kInt64, LogicalType::kDouble,
    LogicalType::kTimestamp, LogicalType::kBool,  LogicalType::kDate};

}  // namespace smartcity
