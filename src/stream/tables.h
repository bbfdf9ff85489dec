// The tables the stream processor produces, as the stream code sees them: their names, their
// schemas (columnar, see common/record_batch.h) and the column index of every field, so the parser
// and the join append by index with no lookup per row. All of it is declared once, in the model
// (model/schema.h: columns, types, order, names); this header only brings it into `stream`.
//
// Thread-safety: the schemas are immutable and built once (thread-safe static init).
#pragma once

#include <memory>
#include <string_view>

#include "common/record_batch.h"
#include "model/schema.h"
#include "transport/message.h"

namespace smartcity::stream {

inline constexpr std::string_view kEnrichedTable = model::kEnrichedTable;
inline constexpr std::string_view kDeadLettersTable = model::kDeadLettersTable;
inline constexpr std::string_view kLateEventsTable = model::kLateEventsTable;

// Column indices, in schema order: the model's (model/schema.h), where each table's columns are
// declared indexed by these enums.
namespace vehicle_col = model::vehicle_col;
namespace gps_col = model::gps_col;
namespace traffic_col = model::traffic_col;
namespace weather_col = model::weather_col;
namespace emergency_col = model::emergency_col;
namespace enriched_col = model::enriched_col;
namespace dead_letter_col = model::dead_letter_col;
namespace late_event_col = model::late_event_col;

const std::shared_ptr<const Schema>& RawSchema(Topic topic);
const std::shared_ptr<const Schema>& EnrichedSchema();
const std::shared_ptr<const Schema>& DeadLetterSchema();
const std::shared_ptr<const Schema>& LateEventSchema();

// Writes "YYYY-MM-DD" (10 chars) of the UTC day of `t` to out.
void FormatDate(EventTime t, char* out);

// Appends the `date` value of `t` to a string column, caching the last day (rows come in time
// order).
class DateColumnWriter {
 public:
  void Append(EventTime t, Column* column);

 private:
  int64_t day_ = INT64_MIN;
  char text_[10] = {};
};

}  // namespace smartcity::stream
