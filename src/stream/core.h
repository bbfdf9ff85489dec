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

// Keys that are not the device id (docs/kafka_source.md): the join needs every record of a device
// in the device's partition group, murmur2(deviceId) mod `partitions` (the partitioner of
// smartcity's own producer). A valid join-input record whose device belongs elsewhere is
// *misplaced*: it still goes to its raw table here, and
//  - forward = true: it is not joined here but handed out (forwards()) for the caller to send to
//    the device's group, which joins it (InputRecord::repartition);
//  - forward = false: it is joined here (the join then misses its matches: counted only).
struct RoutingOptions {
  int32_t partitions = 0;  // 0: no check (in-process sources partition by deviceId themselves)
  bool forward = false;
};

struct StreamCoreOptions {
  ParserOptions parser;
  JoinOptions join;
  EventTimeGuardOptions guard;
  RoutingOptions routing;
};

// One record as read from the source.
struct InputRecord {
  Topic topic;
  SourcePosition position;
  std::string_view payload;
  // A join input's record forwarded to this group (from a repartition topic): joined only (its raw
  // row was written where it was first read, which `position` names). A record at or below the
  // highest position of its origin partition already joined is a duplicate (a forwarder that
  // crashed before its checkpoint forwards again, in the same order) and is dropped.
  bool repartition = false;
};

// A misplaced record to forward (RoutingOptions::forward); views valid until the next Process.
struct ForwardRecord {
  Topic topic;
  PartitionId to;  // the device's partition group
  std::string_view device_id;
  std::string_view payload;
  SourcePosition position;  // where it was read
};

struct RoutingCounters {
  uint64_t misplaced = 0;   // valid join-input records read outside their device's group
  uint64_t forwarded = 0;   // ... of which handed out to be forwarded
  uint64_t received = 0;    // forwarded records joined here
  uint64_t duplicates = 0;  // forwarded records dropped as already joined
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

  // The partition group this core joins for (RoutingOptions); -1: none, no routing.
  void SetPartition(int32_t partition) { partition_ = partition; }
  // The misplaced records of the last Process() to forward, in input order per topic.
  const std::vector<ForwardRecord>& forwards() const { return forwards_; }
  const RoutingCounters& routing_counters() const { return routing_counters_; }

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
  // Joins rows [begin, end) of the raw batch of `topic` (a join input), skipping the misplaced
  // rows it hands out for forwarding.
  void JoinDirect(Topic topic, size_t begin, size_t end,
                  const std::vector<std::string_view>& payloads, StreamOutput* out);
  void JoinRows(Topic topic, const RecordBatch& batch, size_t begin, size_t end, StreamOutput* out);
  // Writes late_ (rows of `batches`, first row `start[t]`, payloads) to out->late_events.
  void WriteLate(const std::array<RecordBatch, kTopicCount>& batches,
                 const std::array<size_t, kTopicCount>& start,
                 const std::array<std::vector<std::string_view>, kTopicCount>& payloads,
                 EventTime received, StreamOutput* out);

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

  // Routing.
  int32_t partition_ = -1;
  std::vector<ForwardRecord> forwards_;
  std::vector<size_t> misplaced_rows_;
  RoutingCounters routing_counters_;
  // Forwarded records: parsed into these (never written), joined from them.
  EventParser joinparser_;
  StreamOutput forwarded_;
  std::array<std::vector<std::string_view>, kTopicCount> forwarded_payloads_;
  // Per join input, per origin partition: the highest origin offset of a forwarded record joined
  // (-1: none). Checkpointed with the join state.
  std::array<std::vector<int64_t>, kJoinInputCount> joined_upto_;
};

}  // namespace smartcity::stream
