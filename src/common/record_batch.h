// RecordBatch: rows of one table held column by column, the unit the stream processor hands to the
// lake writer. Appends are amortised O(1) with no allocation per row: strings of a column share one
// byte buffer plus an offsets array; nulls are a byte per row.
//
// Column types are LogicalType (common/logical_type.h). Debug builds check the type of every
// Append* (a column appended with the wrong setter, as after a reordered schema, asserts); release
// builds pay nothing.
//
// Ownership: a RecordBatch owns its data. Thread-safety: one thread at a time.
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/logical_type.h"
#include "common/time.h"

namespace smartcity {

struct ColumnSpec {
  std::string name;
  LogicalType type;
  bool nullable = false;
};

struct Schema {
  std::vector<ColumnSpec> columns;
  // Index of the column called `name`, or -1.
  int IndexOf(std::string_view name) const;
  bool operator==(const Schema& o) const;
};

class Column {
 public:
  explicit Column(LogicalType type) : type_(type) {}

  LogicalType type() const { return type_; }
  size_t size() const { return valid_.size(); }

  void AppendString(std::string_view v);
  void AppendInt32(int32_t v);
  void AppendInt64(int64_t v);
  void AppendDouble(double v);
  void AppendTimestamp(EventTime v) {
    assert(type_ == LogicalType::kTimestamp);
    AppendInt64(v.time_since_epoch().count());
  }
  void AppendBool(bool v);
  // Days since 1970-01-01 (kDate).
  void AppendDate(int32_t days);
  void AppendNull();

  bool IsNull(size_t row) const { return valid_[row] == 0; }
  std::string_view GetString(size_t row) const {
    return std::string_view(bytes_).substr(offsets_[row], offsets_[row + 1] - offsets_[row]);
  }
  int32_t GetInt32(size_t row) const { return i32_[row]; }
  int64_t GetInt64(size_t row) const { return i64_[row]; }
  EventTime GetTimestamp(size_t row) const { return EventTime(Micros(i64_[row])); }
  double GetDouble(size_t row) const { return f64_[row]; }
  bool GetBool(size_t row) const { return b_[row] != 0; }
  int32_t GetDate(size_t row) const { return i32_[row]; }

  // Appends row `row` of `other` (same type).
  void AppendFrom(const Column& other, size_t row);
  // Appends rows [begin, end) of `other` (same type): bulk copies, no per-row dispatch.
  void AppendRange(const Column& other, size_t begin, size_t end);
  void Clear();
  // Keeps the first `rows` rows (REQUIRES: rows <= size()); capacity is kept.
  void Truncate(size_t rows);
  void Reserve(size_t rows);
  // Bytes held (for sizing files and memory accounting).
  size_t ByteSize() const;

 private:
  LogicalType type_;
  std::vector<uint8_t> valid_;
  std::vector<int32_t> i32_;  // int32 and date
  std::vector<int64_t> i64_;  // int64 and timestamp
  std::vector<double> f64_;
  std::vector<uint8_t> b_;
  std::string bytes_;                 // string data
  std::vector<uint32_t> offsets_{0};  // string i is bytes_[offsets_[i], offsets_[i+1])
};

class RecordBatch {
 public:
  explicit RecordBatch(std::shared_ptr<const Schema> schema);

  const Schema& schema() const { return *schema_; }
  const std::shared_ptr<const Schema>& schema_ptr() const { return schema_; }
  size_t num_rows() const { return columns_.empty() ? 0 : columns_[0].size(); }
  size_t num_columns() const { return columns_.size(); }
  Column& column(size_t i) { return columns_[i]; }
  const Column& column(size_t i) const { return columns_[i]; }
  // Appends row `row` of `other` (same schema).
  void AppendRow(const RecordBatch& other, size_t row);
  // Appends rows [begin, end) of `other` (same schema).
  void AppendRows(const RecordBatch& other, size_t begin, size_t end);
  void Clear();
  // Keeps the first `rows` rows of every column (REQUIRES: rows <= num_rows()).
  void Truncate(size_t rows);
  size_t ByteSize() const;

 private:
  std::shared_ptr<const Schema> schema_;
  std::vector<Column> columns_;
};

// Rows [begin, end) of a batch. A list of them is one sequence of rows that several batches of the
// same schema hold, written as one without copying them into one batch first.
struct RowRange {
  const RecordBatch* batch = nullptr;
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
};
// The rows of `ranges` from the `begin`-th to before the `end`-th, counted across the list.
std::vector<RowRange> SliceRows(std::span<const RowRange> ranges, size_t begin, size_t end);
// The number of rows of `ranges`.
size_t CountRows(std::span<const RowRange> ranges);

}  // namespace smartcity
