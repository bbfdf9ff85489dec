// WatermarkTracker: the event-time watermark of the stream-stream join, with Spark Structured
// Streaming's semantics.
//
// Per input (vehicle, weather, emergency): watermark = max event time seen - D. The join watermark
// is the minimum over the inputs that hold it back. An input holds it back once it has seen a
// record and until it has been idle (no records) for `idle_timeout` of processing time (Clock); an
// input that never saw a record does not hold it back (as in Spark) — except that an input whose
// source still has unread records (SetBacklog: a Kafka partition behind its end) always holds it
// back, at its own watermark, or where it stands if it has seen nothing yet. Spark reads every
// input's backlog in each micro-batch; our source reads partitions as Kafka delivers them, so
// without this rule an input read first could push the watermark past records of another that
// simply had not been fetched yet. When no input holds it back but some have data, the join
// watermark moves to the largest input watermark (the whole stream has gone quiet). It never goes
// backwards. It moves only by Set() / Advance(), at the end of a micro-batch: a record is late when
// its event time is strictly before the watermark in force when it arrives (the one of the previous
// micro-batch), exactly as Spark filters late rows against the previous batch's watermark.
//
// Before the first Set() / Advance() with data the watermark is EventTime::min() (nothing is late).
//
// Ownership: borrows the Clock, which must outlive the tracker. Thread-safety: one thread at a
// time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "common/time.h"

namespace smartcity::stream {

// The inputs of the enriched join.
enum class JoinInput : uint8_t { kVehicle = 0, kWeather = 1, kEmergency = 2 };
inline constexpr size_t kJoinInputCount = 3;
std::string_view JoinInputName(JoinInput i);  // "vehicle", "weather", "emergency"

struct WatermarkOptions {
  // D: how far behind the latest event time an input's watermark trails (how late a record may be).
  Micros delay = std::chrono::minutes(2);
  // Processing time after which a silent input stops holding the join watermark back.
  Micros idle_timeout = std::chrono::seconds(5);
};

class WatermarkTracker {
 public:
  WatermarkTracker(WatermarkOptions options, Clock* clock);

  // The join watermark in force (EventTime::min() when there is none yet).
  EventTime watermark() const { return watermark_; }
  // True when a record with this event time arrives too late to be joined.
  bool IsLate(EventTime t) const { return t < watermark_; }

  // Input `input` received records whose latest event time is `max_event_time` (call once per batch
  // of records with data). Marks the input active now.
  void Observe(JoinInput input, EventTime max_event_time);
  // Whether the source has unread records of `input` (see the class comment). Not checkpointed: the
  // owner sets it from the source before each Compute().
  void SetBacklog(JoinInput input, bool backlogged) { inputs_[Index(input)].backlog = backlogged; }

  // The join watermark the inputs call for now (processing time decides idleness), never below the
  // current one. Changes nothing but the holding() flags. Record it when the epoch must be
  // replayable.
  EventTime Compute();
  // What Compute() would return now, changing nothing (the live view reads it between epochs).
  EventTime Peek() const;
  // Makes `w` the watermark in force (ignored if it is behind the current one); returns the result.
  EventTime Set(EventTime w);
  // Set(Compute()): the end of a micro-batch.
  EventTime Advance() { return Set(Compute()); }

  bool has_data(JoinInput i) const { return inputs_[Index(i)].has_data; }
  // What the last SetBacklog() said for the input.
  bool backlog(JoinInput i) const { return inputs_[Index(i)].backlog; }
  // max event time - D of the input (EventTime::min() with no data).
  EventTime InputWatermark(JoinInput i) const;
  // Whether the input held the watermark back at the last Compute().
  bool holding(JoinInput i) const { return inputs_[Index(i)].holding; }
  const WatermarkOptions& options() const { return options_; }

  // Checkpoint: max event times, the watermark and each input's idle age (so that idleness resumes
  // where it stood). Format: docs/checkpoint_format.md, "join state".
  Status SerializeState(std::string* out) const;
  Status RestoreState(std::string_view data);

 private:
  struct Input {
    bool has_data = false;
    bool holding = false;
    bool backlog = false;
    EventTime max_event_time = EventTime::min();
    ProcessingTime last_active{};
  };
  static size_t Index(JoinInput i) { return static_cast<size_t>(i); }
  // Compute()'s rule at `now`; stores each input's holding flag in *holding when not null.
  EventTime Evaluate(ProcessingTime now, std::array<bool, kJoinInputCount>* holding) const;

  WatermarkOptions options_;
  Clock* clock_;
  std::array<Input, kJoinInputCount> inputs_{};
  EventTime watermark_ = EventTime::min();
};

}  // namespace smartcity::stream
