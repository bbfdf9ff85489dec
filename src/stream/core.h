// StreamCore: the stream processor's logic without I/O — parse and validate each record of a
// micro-batch, feed the join inputs, and produce the rows of every output table. The caller (the
// `stream` command) reads records from a source, hands them over per micro-batch, writes the output
// batches to the lake and checkpoints SerializeState() together with the source positions.
//
// Per micro-batch:
//   out.Clear();
//   core.Process(records, received_at, &out);   // any number of times
//   core.AdvanceWatermark(&out);                // once, at the end of the micro-batch
//   ... write out.raw[t], out.enriched, out.dead_letters, out.late_events; checkpoint ...
// At the end of a bounded run: core.Flush(&out) and write once more.
//
// Replayable epochs (docs/processor.md): at the start of epoch E take wm = core.ComputeWatermark()
// (or, when re-running E after a crash, the wm recorded for it), record it, then
// core.AdvanceWatermarkTo(wm, &out) followed by the epoch's Process() calls. The epoch's output is
// then a function of (state after E-1, records of E, wm) only.
//
// Every input record ends up in exactly one of: its raw table (valid) or `_dead_letters` (invalid,
// or a vehicle/weather/emergency record with an implausible event time that the EventTimeGuard
// quarantined; it holds such a suspect, checkpointed, until the input's next records decide:
// event_time_guard.h). A valid vehicle/weather/emergency record behind the watermark is in its raw
// table AND in `_late_events`, and is not joined.
//
// Ownership: borrows the Clock (must outlive the core); the records' payloads are only read during
// Process(). Thread-safety: one thread at a time.
#pragma once

#include <array>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/record_batch.h"
#include "stream/event_time_guard.h"
#include "stream/join.h"
#include "stream/parser.h"
#include "stream/tables.h"

namespace smartcity::stream {

struct StreamCoreOptions {
  ParserOptions parser;
  JoinOptions join;
  EventTimeGuardOptions guard;
};

// One record as read from the source.
struct InputRecord {
  Topic topic;
  SourcePosition position;
  std::string_view payload;
};

// The rows one micro-batch produced, one batch per output table.
struct StreamOutput {
  StreamOutput();
  std::array<RecordBatch, kTopicCount> raw;
  RecordBatch enriched;
  RecordBatch dead_letters;
  RecordBatch late_events;

  RecordBatch& Raw(Topic t) { return raw[static_cast<size_t>(t)]; }
  const RecordBatch& Raw(Topic t) const { return raw[static_cast<size_t>(t)]; }
  void Clear();
  size_t TotalRows() const;
};

class StreamCore {
 public:
  StreamCore(const StreamCoreOptions& options, Clock* clock);

  // Parses `records` (raw or dead-letter rows) and joins the valid vehicle/weather/emergency ones
  // (enriched rows, late-event rows). `received_at` is the wall-clock receive time (Clock::WallNow;
  // dead letters and late events carry it as their receivedAt timestamp).
  void Process(std::span<const InputRecord> records, WallTime received_at, StreamOutput* out);

  // End of a micro-batch: advances the watermark; emits the NULL-emergency rows it finalises.
  EventTime AdvanceWatermark(StreamOutput* out) {
    guard_.StartEpoch();
    return join_.AdvanceWatermark(&out->enriched);
  }
  // The same in two steps, for replayable epochs: compute (and record) the watermark, then apply
  // it. On replay apply the recorded value instead of computing one: the output is then identical.
  EventTime ComputeWatermark() { return join_.ComputeWatermark(); }
  // The watermark the next epoch would take if it started now, changing nothing (the live view's).
  EventTime PeekWatermark() const { return join_.PeekWatermark(); }
  // The source has unread records of this topic (WatermarkTracker::SetBacklog); other topics
  // ignored.
  void SetBacklog(Topic topic, bool backlogged) {
    switch (topic) {
      case Topic::kVehicle:
        join_.SetInputBacklog(JoinInput::kVehicle, backlogged);
        break;
      case Topic::kWeather:
        join_.SetInputBacklog(JoinInput::kWeather, backlogged);
        break;
      case Topic::kEmergency:
        join_.SetInputBacklog(JoinInput::kEmergency, backlogged);
        break;
      default:
        break;
    }
  }
  EventTime AdvanceWatermarkTo(EventTime watermark, StreamOutput* out) {
    guard_.StartEpoch();
    return join_.AdvanceWatermarkTo(watermark, &out->enriched);
  }
  // The watermark in force: records with an earlier event time are late.
  EventTime watermark() const { return join_.watermark(); }

  // End of a bounded run: quarantines the records the guard still holds, then emits every pending
  // enriched row.
  void Flush(StreamOutput* out);

  const EventTimeJoin& join() const { return join_; }
  const EventParser& parser() const { return parser_; }
  const EventTimeGuard& guard() const { return guard_; }

  // Checkpointable state = the join's (watermarks + join state) and the event-time guard's (held
  // records included), appended to *out. The parser has none. RestoreState() also reads a
  // checkpoint of the join alone (written before the guard existed).
  Status SerializeState(std::string* out) const;
  Status RestoreState(std::string_view in);

 private:
  StreamCoreOptions options_;
  // A valid record of a join input that Admit() refused: held, released or quarantined.
  void Guard(Topic topic, JoinInput input, const InputRecord& rec, EventTime received, int64_t ts,
             StreamOutput* out);
  void WriteQuarantined(Topic topic, StreamOutput* out);

  EventParser parser_;
  EventParser reparser_;  // parses released records again (its counters stay out of parser_'s)
  EventTimeJoin join_;
  EventTimeGuard guard_;
  DateColumnWriter late_dates_;
  std::vector<LateRecord> late_;
  std::array<std::vector<std::string_view>, kTopicCount>
      payload_of_row_;                  // raw row (from batch start) -> its record's payload
  std::deque<GuardedRecord> released_;  // payloads of released rows, until the next Process()
  std::vector<GuardedRecord> released_now_;
  std::vector<QuarantinedRecord> quarantined_now_;
  RecordBatch reparse_dead_letters_;  // never written: a released record parsed before
};

}  // namespace smartcity::stream
