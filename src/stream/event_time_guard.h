// EventTimeGuard: keeps a record with an absurd event time (a device with a broken clock: year
// 2100, or 1970) from moving a join input's watermark, while still following legitimate jumps (a
// replay of a later or an earlier day, the simulator restarted at another --start). SPEC section 3,
// "Input from any producer"; the rule and its options: docs/processor.md, "Implausible event
// times".
//
// Per join input (vehicle, weather, emergency) of one partition group, the guard knows the input's
// *position*: the event time of the last record it admitted (for an input that has admitted none
// yet, the largest position of the group's other inputs at the start of the epoch; with none at
// all, the first record is admitted as it is). A valid record whose event time is more than
// `max_ahead` after the position, or more than `max_behind` before it, is a *suspect*: it is held
// (in no table, not joined, unseen by the watermark) until the input's next records decide:
//
//   - a record within the limits of the position (the input went on where it was) refutes every
//     held suspect: they are quarantined;
//   - a suspect within the limits of the last held one agrees with it; once `confirm` suspects in a
//     row agree, the jump is followed: all of them are released (admitted, in arrival order) and
//     the last one becomes the position;
//   - a suspect that disagrees with the held ones: the minority is quarantined (the new record when
//     two or more agree before it, else the single held one, and the new record is held instead);
//   - Flush() (the end of a bounded run) quarantines what is still held.
//
// A quarantined record goes to `_dead_letters` with a reason that starts with
// kImplausibleEventTimeReason (the caller writes it). Every decision depends only on the guard's
// state and the input's records in their partition order (never on the clock or on how the records
// of different topics interleave), and the state, held records included, is checkpointed: a replay
// after kill -9 decides the same way.
//
// Ownership: owns the held records' payloads. Thread-safety: one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "stream/parser.h"
#include "stream/watermark.h"

namespace smartcity::stream {

// Every quarantined record's `_dead_letters.reason` starts with this.
inline constexpr std::string_view kImplausibleEventTimeReason = "implausible event time";

struct EventTimeGuardOptions {
  // A record more than this after its input's position is a suspect (0: no limit ahead).
  Micros max_ahead = std::chrono::hours(24);
  // A record more than this before its input's position is a suspect (0: no limit behind).
  Micros max_behind = std::chrono::hours(24 * 7);
  // Suspects in a row that agree with each other before the jump is followed (1: follow at once,
  // which turns the guard off).
  uint32_t confirm = 8;

  bool enabled() const { return confirm > 1 && (max_ahead.count() > 0 || max_behind.count() > 0); }
};

// A record the guard holds, releases or quarantines.
struct GuardedRecord {
  EventTime event_time;
  SourcePosition position;
  EventTime received_at;
  std::string payload;
};

struct QuarantinedRecord {
  GuardedRecord record;
  std::string reason;
};

struct EventTimeGuardCounters {
  std::array<uint64_t, kJoinInputCount> quarantined_ahead{};
  std::array<uint64_t, kJoinInputCount> quarantined_behind{};
  std::array<uint64_t, kJoinInputCount> jumps_followed{};

  uint64_t quarantined() const {
    uint64_t n = 0;
    for (size_t i = 0; i < kJoinInputCount; ++i) n += quarantined_ahead[i] + quarantined_behind[i];
    return n;
  }
};

class EventTimeGuard {
 public:
  explicit EventTimeGuard(EventTimeGuardOptions options = {});

  // The hot path: true when a record of `input` with event time `ts` (microseconds) is admitted as
  // it stands (the guard is off, or the record is within the limits and nothing is held); it
  // becomes the input's position. False: call Decide() with the record.
  bool Admit(JoinInput input, int64_t ts) {
    Input& in = inputs_[static_cast<size_t>(input)];
    if (!options_.enabled()) return true;
    if (!in.held.empty()) return false;
    if (in.has_position || has_group_position_) {
      if (!Within(in.has_position ? in.position : group_position_, ts)) return false;
    }
    in.has_position = true;
    in.position = ts;
    return true;
  }

  // The slow path, for a record Admit() refused. Appends to *released the records to admit now, in
  // arrival order (`record` itself last when it is admitted), and to *quarantined the records
  // quarantined now, with their reasons.
  void Decide(JoinInput input, GuardedRecord record, std::vector<GuardedRecord>* released,
              std::vector<QuarantinedRecord>* quarantined);

  // The start of an epoch: fixes the reference of inputs that have no position yet (the largest
  // position of the group's inputs now).
  void StartEpoch();

  // The end of a bounded run: quarantines every record of `input` still held.
  void Flush(JoinInput input, std::vector<QuarantinedRecord>* quarantined);

  size_t held(JoinInput input) const { return inputs_[static_cast<size_t>(input)].held.size(); }
  size_t held() const;
  const EventTimeGuardCounters& counters() const { return counters_; }
  const EventTimeGuardOptions& options() const { return options_; }

  // Checkpoint: positions, held records (payloads included) and counters. Format:
  // docs/checkpoint_format.md, "join state".
  void SerializeState(std::string* out) const;
  Status RestoreState(std::string_view data);

 private:
  struct Input {
    bool has_position = false;
    int64_t position = 0;
    std::vector<GuardedRecord> held;  // all agree with each other, in arrival order
  };

  bool Within(int64_t reference, int64_t ts) const {
    if (options_.max_ahead.count() > 0 && ts > reference &&
        ts - reference > options_.max_ahead.count())
      return false;
    if (options_.max_behind.count() > 0 && ts < reference &&
        reference - ts > options_.max_behind.count())
      return false;
    return true;
  }
  int64_t Reference(const Input& in) const {
    return in.has_position ? in.position : group_position_;
  }
  void Quarantine(size_t input, GuardedRecord record, int64_t reference, std::string_view why,
                  std::vector<QuarantinedRecord>* quarantined);

  EventTimeGuardOptions options_;
  std::array<Input, kJoinInputCount> inputs_{};
  bool has_group_position_ = false;
  int64_t group_position_ = 0;
  EventTimeGuardCounters counters_;
};

}  // namespace smartcity::stream
