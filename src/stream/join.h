// EventTimeJoin: the enriched_data join of SPEC section 3 as a streaming operator, with Spark
// Structured Streaming's stream-stream join semantics:
//
//   vehicle v INNER JOIN weather w   ON w.deviceId = v.deviceId AND w.ts BETWEEN v.ts - J AND v.ts
//   + J
//             LEFT  JOIN emergency e ON e.deviceId = v.deviceId AND e.ts BETWEEN v.ts - J AND v.ts
//             + J
//
// - A row (v, w, e) is emitted as soon as its last member arrives.
// - A (v, w) pair of a vehicle reading that no emergency matched is emitted with NULL emergency
//   columns once the watermark W passes v.ts + J (W > v.ts + J): no record arriving from then on
//   can match it, because a record with event time < W is late.
// - An emergency record of type "None" (model::kNoIncidentType: no incident, as the seeds'
//   producer writes them) counts for the emergency input's watermark and lateness but never joins.
// - Late records (event time < W at arrival) are not joined; they are returned to the caller
//   (LateRecord) and counted. The caller still writes them to their raw table and to
//   `_late_events`.
// - State: a vehicle reading is evicted when W passes v.ts + J (after its NULL rows, if any).
// Weather
//   and emergency rows are evicted when W passes their ts + 2J: a vehicle reading still in state
//   (v.ts >= W - J) can match them up to J earlier than itself, and they must still be there when
//   the vehicle's (v, w, NULL) rows are emitted or its (v, w, e) row completes. With J = 0 both
//   rules are "older than the watermark". Devices left without rows are forgotten once they are the
//   majority of 1024 or more (a stream of ever-new deviceIds cannot grow memory without bound).
// - Flush() (end of a bounded run) emits every pending row and empties the state, so for an input
//   with no late records the output equals the batch SQL join over the raw tables, row for row,
//   multiplicities included.
//
// API per micro-batch, like Spark: Add*() each input's new raw rows (any order), then
// AdvanceWatermark(). Rows are read from raw-table batches (tables.h schemas) and emitted into an
// enriched_data batch (EnrichedSchema()). State is hashed by interned deviceId; the hot path does
// not allocate per event once the per-device buffers have grown.
//
// Ownership: borrows the Clock (must outlive the join). Thread-safety: one thread at a time.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/record_batch.h"
#include "common/status.h"
#include "stream/watermark.h"

namespace smartcity::stream {

struct JoinOptions {
  // J: the join window either side of the vehicle reading's timestamp (0 = exact timestamp).
  Micros window{0};
  WatermarkOptions watermark;
};

// A record of a join input that arrived behind the watermark: not joined.
struct LateRecord {
  JoinInput input;
  size_t row;  // row index in the batch passed to Add*()
  EventTime event_time;
  EventTime watermark;  // the watermark in force at arrival; lateness = watermark - event_time
};

struct JoinCounters {
  std::array<uint64_t, kJoinInputCount> records_in{};  // rows passed to Add*(), late ones included
  std::array<uint64_t, kJoinInputCount> late{};
  uint64_t rows_matched = 0;    // emitted with an emergency
  uint64_t rows_unmatched = 0;  // emitted with NULL emergency columns
};

class EventTimeJoin {
 public:
  EventTimeJoin(JoinOptions options, Clock* clock);
  ~EventTimeJoin();
  EventTimeJoin(const EventTimeJoin&) = delete;
  EventTimeJoin& operator=(const EventTimeJoin&) = delete;

  // Adds rows [begin, end) of a vehicle_data / weather_data / emergency_data raw batch. Completed
  // rows are appended to `enriched`; late rows are appended to `late` (not cleared) and not joined.
  // REQUIRES: the batch has the schema RawSchema() of that topic; begin <= end <= num_rows().
  void AddVehicles(const RecordBatch& batch, size_t begin, size_t end, RecordBatch* enriched,
                   std::vector<LateRecord>* late);
  void AddWeather(const RecordBatch& batch, size_t begin, size_t end, RecordBatch* enriched,
                  std::vector<LateRecord>* late);
  void AddEmergencies(const RecordBatch& batch, size_t begin, size_t end, RecordBatch* enriched,
                      std::vector<LateRecord>* late);

  // End of a micro-batch: AdvanceWatermarkTo(ComputeWatermark()).
  EventTime AdvanceWatermark(RecordBatch* enriched) {
    return AdvanceWatermarkTo(ComputeWatermark(), enriched);
  }
  // The watermark the inputs call for now (see WatermarkTracker::Compute); does not apply it.
  EventTime ComputeWatermark() { return tracker_.Compute(); }
  // The same, changing nothing (WatermarkTracker::Peek).
  EventTime PeekWatermark() const { return tracker_.Peek(); }
  void SetInputBacklog(JoinInput input, bool backlogged) { tracker_.SetBacklog(input, backlogged); }
  // Puts `requested` in force (never backwards) — e.g. the value recorded for an epoch being
  // replayed — then emits the vehicle readings it finalises (NULL-emergency rows) and evicts
  // expired state. Output depends only on the state, the records added and the watermarks passed
  // here, never on the clock. Returns the watermark in force.
  EventTime AdvanceWatermarkTo(EventTime requested, RecordBatch* enriched);

  // End of a bounded run: emits every pending row and clears the state (the watermark stays).
  void Flush(RecordBatch* enriched);

  EventTime watermark() const { return tracker_.watermark(); }
  const WatermarkTracker& tracker() const { return tracker_; }
  const JoinCounters& counters() const { return counters_; }
  // Rows of this input held in state now.
  size_t StateRows(JoinInput input) const;
  // Bytes of the rows held in state now (their fixed size; the buffers' spare capacity and the
  // per-device overhead come on top). O(1).
  size_t StateBytes() const;
  size_t devices() const;
  const JoinOptions& options() const { return options_; }

  // Checkpoint of the watermark tracker and the whole join state (versioned binary, see
  // docs/checkpoint_format.md "join state"). Restoring it into a join built with the same options
  // and feeding it the same records afterwards gives the same output, row for row and in the same
  // order. Appends to *out.
  Status SerializeState(std::string* out) const;
  // REQUIRES: a freshly constructed join (or one to be replaced wholesale). On error, leaves it
  // unchanged.
  Status RestoreState(std::string_view data);

 private:
  // Counts rows [begin, end) of `input`, reports the late ones (event time behind the watermark in
  // force) in `late`, calls on_time(row, event_time_micros) for the others, then lets the input's
  // watermark observe the largest event time seen. The one place the lateness rule is applied.
  template <typename OnTime>
  void ForEachOnTime(const Column& timestamps, JoinInput input, size_t begin, size_t end,
                     std::vector<LateRecord>* late, OnTime&& on_time);
  struct State;
  JoinOptions options_;
  WatermarkTracker tracker_;
  std::unique_ptr<State> state_;
  JoinCounters counters_;
};

}  // namespace smartcity::stream
