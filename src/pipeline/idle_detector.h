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
#include <functional>
#include <map>
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

// How `stream` decides that its input is complete (at most one of the two; neither: run until
// interrupted).
struct StopRule {
  // --stop-when-idle: caught up and nothing new arrived for this long (0: off).
  Micros idle{0};
  // --stop-at-end: stop once every owned partition has been read up to the end it had when the
  // member came to own it (learnt in one QueryLag round); records produced after that are not
  // waited for. With repartitioning, once the inputs are there the forwarded records are flushed
  // (`flush_forwarded`) and the repartition topics' ends read then are drained to as well.
  bool at_end = false;
  // Stores every record forwarded so far (Processor::FlushForwarded); empty: nothing is forwarded.
  std::function<Status()> flush_forwarded;

  static StopRule WhenIdle(Micros idle) {
    StopRule r;
    r.idle = idle;
    return r;
  }
  static StopRule AtEnd(std::function<Status()> flush_forwarded = {}) {
    StopRule r;
    r.at_end = true;
    r.flush_forwarded = std::move(flush_forwarded);
    return r;
  }
};

// `stream`'s input as a Drive's: the source fetches by itself. After each step in which an epoch
// was committed it publishes the positions to the consumer group (so kafka-consumer-groups.sh shows
// the lag; they are never read back: positions live in the lake). It is done, by its StopRule:
//  - idle: once the IdleDetector says the member is idle and caught up, by the step's lag and then
//    by a fresh reading of the ends (EventSource::QueryLag: an end remembered from before an outage
//    is not trusted);
//  - at_end: once the member owns partitions, no group is replaying, every owned input partition's
//    position has reached its target (the end QueryLag read the first step it was owned; revoked
//    partitions forget theirs) and, when the member also reads repartition topics, these have
//    reached theirs: read in one QueryLag round after the inputs reached their targets and the
//    forwarder was flushed, and read again whenever more was forwarded since or a repartition
//    partition without a target is owned. A target that cannot be read (the cluster is
//    unreachable) is never the end: the run goes on, and the source fails after its
//    unavailable-timeout.
class SourceInput final : public DriveInput {
 public:
  // Borrows the source (it must outlive this). `idle` 0: never done.
  SourceInput(EventSource* source, Micros idle, ProcessingTime start)
      : SourceInput(source, StopRule::WhenIdle(idle), start) {}
  SourceInput(EventSource* source, StopRule rule, ProcessingTime start)
      : source_(source), rule_(std::move(rule)), idle_(rule_.idle, start) {}
  void AfterStep(const DriveStep& step) override;
  bool Done(const DriveStep& step) override;

  const IdleDetector& idle() const { return idle_; }
  // Every partition group the member owned at some point.
  const std::set<int32_t>& groups_seen() const { return groups_seen_; }
  // QueryLag rounds made to learn the at_end targets.
  int target_queries() const { return target_queries_; }

 private:
  // Where an owned partition ends for --stop-at-end, and whether its position got there.
  struct Target {
    SourcePosition end{0};
    bool reached = false;
  };
  bool DoneAtEnd(const DriveStep& step);
  // Reads the ends now (one QueryLag round) and makes them the targets of the owned input
  // partitions that have none (repartition false) or of every owned repartition partition (true);
  // false when the ends cannot be read now.
  bool ReadTargets(bool repartition);

  EventSource* source_;
  StopRule rule_;
  IdleDetector idle_;
  uint64_t published_epochs_ = 0;
  std::set<int32_t> groups_seen_;
  std::map<TopicPartition, Target> targets_;
  // The processor's forwarded count when the repartition targets were read (unset: not yet).
  std::optional<uint64_t> forwarded_at_query_;
  int target_queries_ = 0;
};

}  // namespace smartcity::pipeline
