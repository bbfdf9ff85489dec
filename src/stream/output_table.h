// OutputTable: the eight tables StreamCore's output fills, in a fixed order — the five raw tables
// (in Topic order), enriched_data, _dead_letters and _late_events — with each one's lake name,
// schema and batch within a StreamOutput. The pipeline writes one Delta table per entry; the live
// view counts rows per entry.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/record_batch.h"
#include "model/schema.h"
#include "stream/core.h"

namespace smartcity::stream {

// The model's table list (model/schema.h) is the one order: raw tables in Topic order, then the
// derived ones.
using OutputTable = model::Table;
inline constexpr size_t kOutputTableCount = model::kTableCount;
std::string_view OutputTableName(
    OutputTable t);  // "vehicle_data", ..., "enriched_data", "_dead_letters", ...
const RecordBatch& OutputOf(const StreamOutput& out, OutputTable t);
RecordBatch& OutputOf(StreamOutput& out, OutputTable t);
const std::shared_ptr<const Schema>& SchemaOf(OutputTable t);
// Row counts of each output batch, in OutputTable order.
using OutputMarks = std::array<size_t, kOutputTableCount>;
// The row counts of `out` now.
OutputMarks MarksOf(const StreamOutput& out);

}  // namespace smartcity::stream
