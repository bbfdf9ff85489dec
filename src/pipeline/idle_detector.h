// IdleDetector: when `smartcity stream --stop-when-idle T` stops. After every Processor::Step() the
// command's loop reports the processor's record count; it stops once no new record arrived for T of
// processing time (Idle) and the member has caught up (CaughtUp: it owns partitions, none of them
// has unread records, no partition group is re-running an epoch). The source's lag is asked only
// once the first holds. It also keeps when the
// first and the last record arrived (the summary's active reading time).
//
// Thread-safety: a value type, one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/time.h"
#include "pipeline/processor.h"
#include "transport/event_source.h"

namespace smartcity::pipeline {

class IdleDetector {
 public:
  // `idle` 0: never idle (run until interrupted). `start`: processing time the loop began.
  IdleDetector(Micros idle, ProcessingTime start) : idle_(idle), last_input_(start) {}

  // Called after each step at processing time `now` with the processor's records so far. True:
  // nothing new arrived for the idle time (ask CaughtUp() before stopping).
  bool Idle(ProcessingTime now, uint64_t records);
  // The member owns partitions, none of them has unread records and no group is replaying.
  static bool CaughtUp(bool owns_partitions, std::span<const PartitionLag> lag,
                       std::span<const Processor::GroupStatus> groups);

  std::optional<ProcessingTime> first_input() const { return first_input_; }
  ProcessingTime last_input() const { return last_input_; }

 private:
  Micros idle_;
  uint64_t records_ = 0;
  ProcessingTime last_input_;
  std::optional<ProcessingTime> first_input_;
};

}  // namespace smartcity::pipeline
