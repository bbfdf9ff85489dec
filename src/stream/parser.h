// EventParser: turns one Kafka message (or in-process message) of one of the five topics into one
// row of that topic's raw table, or into one `_dead_letters` row that says precisely why not.
//
// The schema of each topic is DECLARED in the model (model/schema.h: field name, JSON type, range
// or enum; the parser's descriptors are derived from it at compile time), never inferred: every
// declared field must be present with the right JSON type and a plausible value; unknown fields are
// ignored; a repeated field is refused. `timestamp` accepts ISO-8601 with `Z` or an offset, with or
// without a fraction, and is stored as UTC microseconds. `location` accepts "(lat, lon)",
// "lat,lon", [lat, lon] and {"lat":..,"lon":..} and becomes the `latitude`, `longitude` columns.
//
// Reasons read like "missing field speed", "field year: expected integer, got string",
// "payload of 200000 bytes exceeds the 65536-byte limit", "invalid JSON at byte 57: ...".
//
// Never throws and never crashes, whatever the bytes (fuzz-tested under ASan). On the good path it
// allocates nothing per record once its buffers have grown (simdjson On-Demand, one parser reused).
//
// Ownership: the parser owns its scratch buffers; rows are appended to batches the caller owns.
// Thread-safety: one thread at a time (use one parser per thread).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/named_type.h"
#include "common/record_batch.h"
#include "common/time.h"
#include "transport/message.h"

namespace smartcity::stream {

struct ParserOptions {
  // A payload larger than this is a dead letter without being parsed.
  size_t max_payload_bytes = 64 * 1024;
  // A dead letter's payload is stored up to this many bytes (then cut, with payloadTruncated =
  // true). The default keeps every record Kafka's default 1 MB message limit lets through whole.
  size_t dead_letter_payload_cap = 1024 * 1024;
  // Topic names written to `_dead_letters.topic` (the defaults, or as renamed by configuration).
  TopicNames topic_names;
};

// Where a record came from: Kafka partition and offset, or partition 0 and the in-process sequence.
struct SourcePosition {
  PartitionId partition{0};
  int64_t offset = 0;
};

struct ParserCounters {
  std::array<uint64_t, kTopicCount> valid{};
  std::array<uint64_t, kTopicCount> dead_letters{};
  uint64_t unknown_topic = 0;  // dead letters of a Topic outside the five (topic "#<n>")
};

class EventParser {
 public:
  explicit EventParser(ParserOptions options = {});
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // Parses `payload` as an event of `topic`. When valid, appends one row to `raw` (schema
  // RawSchema(topic)) and returns true. Otherwise appends one row to `dead_letters` (schema
  // DeadLetterSchema()) and returns false; last_reason() then says why. A `topic` outside the
  // five is a dead letter too ("unknown topic <n>", its topic column "#<n>"); `raw` is untouched.
  // `received_at` is the wall-clock time the record was received (dead letters carry it).
  bool Parse(Topic topic, std::string_view payload, SourcePosition position, EventTime received_at,
             RecordBatch* raw, RecordBatch* dead_letters);

  // Appends a `_dead_letters` row for a valid record of `topic` that is not admitted after all
  // (EventTimeGuard's quarantine), with `reason`. Counts nothing.
  void AppendRejected(Topic topic, std::string_view payload, SourcePosition position,
                      EventTime received_at, std::string_view reason, RecordBatch* dead_letters);

  // Why the last Parse() returned false (empty after a success). Valid until the next Parse().
  std::string_view last_reason() const { return reason_; }
  const ParserCounters& counters() const { return counters_; }
  const ParserOptions& options() const { return options_; }

 private:
  struct Impl;
  bool ParseValid(Topic topic, std::string_view payload, SourcePosition position, RecordBatch* raw);
  void AppendDeadLetter(std::string_view topic_name, std::string_view payload,
                        SourcePosition position, EventTime received_at, RecordBatch* dead_letters);

  ParserOptions options_;
  std::unique_ptr<Impl> impl_;
  std::string reason_;
  std::string scratch_;  // base64 of a non-UTF-8 dead letter
  ParserCounters counters_;
};

}  // namespace smartcity::stream
