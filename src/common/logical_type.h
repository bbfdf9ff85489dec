// LogicalType: the one vocabulary of column types, as DuckDB's LogicalType. A RecordBatch column,
// a model column (model/schema.h), a Delta field, a catalog column and a warehouse column all carry
// one; each edge converts to and from its own spelling in one place:
//   Delta "string"/"integer"/...      lake/delta_log.h   (DeltaTypeName / ParseDeltaType)
//   DuckDB / SQL "VARCHAR"/...        engine/engine.h    (SqlTypeName, LogicalTypeOf)
//   PostgreSQL / Redshift DDL         warehouse/dialect.h
// Adding a type means adding it here and to each of those conversions (the compiler's -Wswitch
// finds them).
#pragma once

#include <cstdint>
#include <string_view>

namespace smartcity {

enum class LogicalType : uint8_t {
  kString,  // UTF-8
  kInt32,
  kInt64,
  kDouble,
  kTimestamp,  // microseconds since the epoch, UTC (Parquet TIMESTAMP(MICROS, UTC); Delta
               // "timestamp")
  kBool,
};

// "string", "int32", "int64", "double", "timestamp", "bool": our own spelling (CLI output,
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
  }
  return "?";
}

inline constexpr LogicalType kAllLogicalTypes[] = {LogicalType::kString,    LogicalType::kInt32,
                                                   LogicalType::kInt64,     LogicalType::kDouble,
                                                   LogicalType::kTimestamp, LogicalType::kBool};

}  // namespace smartcity
