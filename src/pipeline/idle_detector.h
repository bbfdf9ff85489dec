// IdleDetector: when `smartcity stream --stop-when-idle T` stops. After every Processor::Step() the
// command's loop reports the processor's record count; it stops once no new record arrived for T of
// processing time (Idle) and the member has caught up (CaughtUp: it owns partitions, the lag of
// every one of them is known and 0, no partition group is re-running an epoch). An outage is not
// silence: while the source cannot reach its transport the lag is unknown, which is never caught
// up, and the idle time counts only from when the lag is known again (producers held up by the same
// outage get the idle time to resume). Positions the source never returns (Kafka's transaction
// markers at the end of a partition) do not count as unread: the source's lag sees through them. It
// also keeps when the first and the last record arrived (the summary's active reading time).
//
// Thread-safety: a value type, one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>

#include "common/time.h"
#include "pipeline/driver.h"
#include "pipeline/processor.h"
#include "transport/event_source.h"

namespace smartcity::pipeline {

class IdleDetector {
 public:
  // `idle` 0: never idle (run until interrupted). `start`: processing time the loop began.
  IdleDetector(Micros idle, ProcessingTime start)
      : idle_(idle), last_input_(start), quiet_since_(start) {}

  // Called after each step at processing time `now` with the processor's records so far and
  // whether the source knew its lag. True: nothing new arrived for the idle time, all of it with
  // the lag known (ask CaughtUp() before stopping).
  bool Idle(ProcessingTime now, uint64_t records, bool lag_known = true);
  // The member owns partitions, the lag of each is known and 0, and no group is replaying.
  static bool CaughtUp(bool owns_partitions, std::span<const PartitionLag> lag,
                       std::span<const Processor::GroupStatus> groups);

  std::optional<ProcessingTime> first_input() const { return first_input_; }
  ProcessingTime last_input() const { return last_input_; }

 private:
  Micros idle_;
  uint64_t records_ = 0;
  ProcessingTime last_input_;
  ProcessingTime quiet_since_;  // the last record, or the last time the lag was unknown
  std::optional<ProcessingTime> first_input_;
};

// `stream`'s input as a Drive's: the source fetches by itself. After each step in which an epoch
// was committed it publishes the positions to the consumer group (so kafka-consumer-groups.sh shows
// the lag; they are never read back: positions live in the lake); it is done once the IdleDetector
// says the member is idle and caught up, by the step's lag and then by a fresh reading of the ends
// (EventSource::QueryLag: an end remembered from before an outage is not trusted).
class SourceInput final : public DriveInput {
 public:
  // Borrows the source (it must outlive this). `idle` 0: never done.
  SourceInput(EventSource* source, Micros idle, ProcessingTime start)
      : source_(source), idle_(idle, start) {}
  void AfterStep(const DriveStep& step) override;
  bool Done(const DriveStep& step) override;

  const IdleDetector& idle() const { return idle_; }
  // Every partition group the member owned at some point.
  const std::set<int32_t>& groups_seen() const { return groups_seen_; }

 private:
  EventSource* source_;
  IdleDetector idle_;
  uint64_t published_epochs_ = 0;
  std::set<int32_t> groups_seen_;
};

}  // namespace smartcity::pipeline
