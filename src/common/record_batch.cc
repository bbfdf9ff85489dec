#include "common/record_batch.h"

#include <algorithm>

namespace smartcity {

int Schema::IndexOf(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool Schema::operator==(const Schema& o) const {
  if (columns.size() != o.columns.size()) return false;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name != o.columns[i].name || columns[i].type != o.columns[i].type ||
        columns[i].nullable != o.columns[i].nullable) {
      return false;
    }
  }
  return true;
}

void Column::AppendString(std::string_view v) {
  assert(type_ == LogicalType::kString);
  bytes_.append(v.data(), v.size());
  offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
  valid_.push_back(1);
}
void Column::AppendInt32(int32_t v) {
  assert(type_ == LogicalType::kInt32);
  i32_.push_back(v);
  valid_.push_back(1);
}
void Column::AppendDate(int32_t days) {
  assert(type_ == LogicalType::kDate);
  i32_.push_back(days);
  valid_.push_back(1);
}
void Column::AppendInt64(int64_t v) {
  // Timestamps are microseconds: AppendTimestamp, or AppendInt64 of the count (the parser's way).
  assert(type_ == LogicalType::kInt64 || type_ == LogicalType::kTimestamp);
  i64_.push_back(v);
  valid_.push_back(1);
}
void Column::AppendDouble(double v) {
  assert(type_ == LogicalType::kDouble);
  f64_.push_back(v);
  valid_.push_back(1);
}
void Column::AppendBool(bool v) {
  assert(type_ == LogicalType::kBool);
  b_.push_back(v ? 1 : 0);
  valid_.push_back(1);
}

void Column::AppendNull() {
  switch (type_) {
    case LogicalType::kString:
      offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
      break;
    case LogicalType::kInt32:
    case LogicalType::kDate:
      i32_.push_back(0);
      break;
    case LogicalType::kInt64:
    case LogicalType::kTimestamp:
      i64_.push_back(0);
      break;
    case LogicalType::kDouble:
      f64_.push_back(0);
      break;
    case LogicalType::kBool:
      b_.push_back(0);
      break;
  }
  valid_.push_back(0);
}

void Column::AppendFrom(const Column& other, size_t row) {
  assert(type_ == other.type_);
  if (other.IsNull(row)) {
    AppendNull();
    return;
  }
  switch (type_) {
    case LogicalType::kString:
      AppendString(other.GetString(row));
      break;
    case LogicalType::kInt32:
      AppendInt32(other.GetInt32(row));
      break;
    case LogicalType::kInt64:
    case LogicalType::kTimestamp:
      AppendInt64(other.GetInt64(row));
      break;
    case LogicalType::kDouble:
      AppendDouble(other.GetDouble(row));
      break;
    case LogicalType::kBool:
      AppendBool(other.GetBool(row));
      break;
    case LogicalType::kDate:
      AppendDate(other.GetDate(row));
      break;
  }
}

void Column::AppendRange(const Column& other, size_t begin, size_t end) {
  assert(type_ == other.type_);
  if (end <= begin) return;
  valid_.insert(valid_.end(), other.valid_.begin() + begin, other.valid_.begin() + end);
  switch (type_) {
    case LogicalType::kString: {
      const uint32_t from = other.offsets_[begin];
      const uint32_t base = static_cast<uint32_t>(bytes_.size());
      bytes_.append(other.bytes_, from, other.offsets_[end] - from);
      const size_t n = offsets_.size();
      offsets_.resize(n + (end - begin));
      uint32_t* out = offsets_.data() + n;
      const uint32_t* in = other.offsets_.data() + begin + 1;
      for (size_t i = 0; i < end - begin; ++i) out[i] = base + (in[i] - from);
      break;
    }
    case LogicalType::kInt32:
    case LogicalType::kDate:
      i32_.insert(i32_.end(), other.i32_.begin() + begin, other.i32_.begin() + end);
      break;
    case LogicalType::kInt64:
    case LogicalType::kTimestamp:
      i64_.insert(i64_.end(), other.i64_.begin() + begin, other.i64_.begin() + end);
      break;
    case LogicalType::kDouble:
      f64_.insert(f64_.end(), other.f64_.begin() + begin, other.f64_.begin() + end);
      break;
    case LogicalType::kBool:
      b_.insert(b_.end(), other.b_.begin() + begin, other.b_.begin() + end);
      break;
  }
}

void Column::Clear() {
  valid_.clear();
  i32_.clear();
  i64_.clear();
  f64_.clear();
  b_.clear();
  bytes_.clear();
  offsets_.assign(1, 0);
}

void Column::Truncate(size_t rows) {
  assert(rows <= size());
  valid_.resize(rows);
  switch (type_) {
    case LogicalType::kString:
      bytes_.resize(offsets_[rows]);
      offsets_.resize(rows + 1);
      break;
    case LogicalType::kInt32:
    case LogicalType::kDate:
      i32_.resize(rows);
      break;
    case LogicalType::kInt64:
    case LogicalType::kTimestamp:
      i64_.resize(rows);
      break;
    case LogicalType::kDouble:
      f64_.resize(rows);
      break;
    case LogicalType::kBool:
      b_.resize(rows);
      break;
  }
}

void Column::Reserve(size_t rows) {
  valid_.reserve(rows);
  switch (type_) {
    case LogicalType::kString:
      offsets_.reserve(rows + 1);
      break;
    case LogicalType::kInt32:
    case LogicalType::kDate:
      i32_.reserve(rows);
      break;
    case LogicalType::kInt64:
    case LogicalType::kTimestamp:
      i64_.reserve(rows);
      break;
    case LogicalType::kDouble:
      f64_.reserve(rows);
      break;
    case LogicalType::kBool:
      b_.reserve(rows);
      break;
  }
}

size_t Column::ByteSize() const {
  return valid_.size() + i32_.size() * 4 + i64_.size() * 8 + f64_.size() * 8 + b_.size() +
         bytes_.size() + offsets_.size() * 4;
}

RecordBatch::RecordBatch(std::shared_ptr<const Schema> schema) : schema_(std::move(schema)) {
  columns_.reserve(schema_->columns.size());
  for (const ColumnSpec& c : schema_->columns) columns_.emplace_back(c.type);
}

void RecordBatch::AppendRow(const RecordBatch& other, size_t row) {
  for (size_t i = 0; i < columns_.size(); ++i) columns_[i].AppendFrom(other.columns_[i], row);
}

void RecordBatch::AppendRows(const RecordBatch& other, size_t begin, size_t end) {
  for (size_t i = 0; i < columns_.size(); ++i)
    columns_[i].AppendRange(other.columns_[i], begin, end);
}

void RecordBatch::Clear() {
  for (Column& c : columns_) c.Clear();
}

void RecordBatch::Truncate(size_t rows) {
  for (Column& c : columns_) c.Truncate(rows);
}

size_t RecordBatch::ByteSize() const {
  size_t n = 0;
  for (const Column& c : columns_) n += c.ByteSize();
  return n;
}

std::vector<RowRange> SliceRows(std::span<const RowRange> ranges, size_t begin, size_t end) {
  std::vector<RowRange> out;
  size_t at = 0;  // rows of the ranges before the current one
  for (const RowRange& r : ranges) {
    const size_t lo = std::max(begin, at), hi = std::min(end, at + r.size());
    if (lo < hi) out.push_back(RowRange{r.batch, r.begin + (lo - at), r.begin + (hi - at)});
    at += r.size();
    if (at >= end) break;
  }
  return out;
}

size_t CountRows(std::span<const RowRange> ranges) {
  size_t n = 0;
  for (const RowRange& r : ranges) n += r.size();
  return n;
}

}  // namespace smartcity
