#include "stream/tables.h"

#include <climits>

namespace smartcity::stream {

const std::shared_ptr<const Schema>& RawSchema(Topic topic) {
  return model::SchemaOf(model::TableOf(topic));
}

const std::shared_ptr<const Schema>& EnrichedSchema() {
  return model::SchemaOf(model::Table::kEnriched);
}

const std::shared_ptr<const Schema>& DeadLetterSchema() {
  return model::SchemaOf(model::Table::kDeadLetters);
}

const std::shared_ptr<const Schema>& LateEventSchema() {
  return model::SchemaOf(model::Table::kLateEvents);
}

void FormatDate(EventTime t, char* out) {
  char full[kTimestampLength];
  FormatTimestamp(t, full);
  for (int i = 0; i < 10; ++i) out[i] = full[i];
}

void DateColumnWriter::Append(EventTime t, Column* column) {
  const int64_t day = std::chrono::floor<std::chrono::days>(t).time_since_epoch().count();
  if (day != day_) {
    FormatDate(t, text_);
    day_ = day;
  }
  column->AppendString(std::string_view(text_, 10));
}

}  // namespace smartcity::stream
