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

// `stream`'s input as a Drive's: the source fetches by itself. After each step in which an epoch
// was committed it publishes the positions to the consumer group (so kafka-consumer-groups.sh shows
// the lag; they are never read back: positions live in the lake); it is done once the IdleDetector
// says the member is idle and caught up.
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
