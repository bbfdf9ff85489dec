#include "stream/output_table.h"

#include "stream/tables.h"

namespace smartcity::stream {

std::string_view OutputTableName(OutputTable t) {
  return model::TableName(t);
}

const RecordBatch& OutputOf(const StreamOutput& out, OutputTable t) {
  switch (t) {
    case OutputTable::kEnriched:
      return out.enriched;
    case OutputTable::kDeadLetters:
      return out.dead_letters;
    case OutputTable::kLateEvents:
      return out.late_events;
    default:
      return out.raw[static_cast<size_t>(t)];
  }
}

RecordBatch& OutputOf(StreamOutput& out, OutputTable t) {
  return const_cast<RecordBatch&>(OutputOf(static_cast<const StreamOutput&>(out), t));
}

const std::shared_ptr<const Schema>& SchemaOf(OutputTable t) {
  switch (t) {
    case OutputTable::kEnriched:
      return EnrichedSchema();
    case OutputTable::kDeadLetters:
      return DeadLetterSchema();
    case OutputTable::kLateEvents:
      return LateEventSchema();
    default:
      return RawSchema(static_cast<Topic>(t));
  }
}

OutputMarks MarksOf(const StreamOutput& out) {
  OutputMarks m;
  for (size_t i = 0; i < kOutputTableCount; ++i)
    m[i] = OutputOf(out, static_cast<OutputTable>(i)).num_rows();
  return m;
}

}  // namespace smartcity::stream
