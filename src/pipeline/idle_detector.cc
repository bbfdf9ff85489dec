#include "pipeline/idle_detector.h"

#include <algorithm>

namespace smartcity::pipeline {

bool IdleDetector::Idle(ProcessingTime now, uint64_t records, bool lag_known) {
  if (records != records_) {
    if (!first_input_) first_input_ = now;
    records_ = records;
    last_input_ = now;
    quiet_since_ = now;
  }
  if (!lag_known) quiet_since_ = now;
  return idle_.count() > 0 && now - quiet_since_ >= idle_;
}

bool IdleDetector::CaughtUp(bool owns_partitions, std::span<const PartitionLag> lag,
                            std::span<const Processor::GroupStatus> groups) {
  bool caught_up = owns_partitions;
  for (const PartitionLag& l : lag) caught_up = caught_up && l.records_behind.value_or(1) == 0;
  for (const auto& g : groups) caught_up = caught_up && !g.replaying;
  return caught_up;
}

void SourceInput::AfterStep(const DriveStep& step) {
  for (const auto& g : step.groups) groups_seen_.insert(g.group);
  if (step.counters->epochs_committed != published_epochs_) {
    published_epochs_ = step.counters->epochs_committed;
    (void)source_->PublishPositions();
  }
}

namespace {

// Whether the partition's position has reached `end`: the position is there, or the source reads
// nothing more up to an end at or past it (transaction markers at the end of a partition take
// positions that no record is returned at).
bool AtTarget(const PartitionLag& l, SourcePosition end) {
  if (l.position && *l.position >= end) return true;
  return l.records_behind == 0 && l.end.value_or(SourcePosition(0)) >= end;
}

}  // namespace

bool SourceInput::Done(const DriveStep& step) {
  const bool idle = idle_.Idle(step.now, step.counters->records, step.lag_known);
  if (rule_.at_end) return DoneAtEnd(step);
  const bool owns = !source_->Assignment().empty();
  if (!idle || !IdleDetector::CaughtUp(owns, step.lag, step.groups)) return false;
  Result<std::vector<PartitionLag>> fresh = source_->QueryLag();
  return fresh.ok() && IdleDetector::CaughtUp(owns, *fresh, step.groups);
}

bool SourceInput::ReadTargets(bool repartition) {
  ++target_queries_;
  Result<std::vector<PartitionLag>> fresh = source_->QueryLag();
  if (!fresh.ok()) return false;
  for (const PartitionLag& l : *fresh) {
    if (l.tp.repartition != repartition || (!repartition && targets_.contains(l.tp))) continue;
    // A partition that never held a record has no end to reach.
    if (!l.end && l.records_behind != 0) return false;
    const SourcePosition end = l.end.value_or(SourcePosition(0));
    targets_[l.tp] = Target{end, AtTarget(l, end)};
  }
  return true;
}

bool SourceInput::DoneAtEnd(const DriveStep& step) {
  const std::vector<TopicPartition> owned = source_->Assignment();  // sorted
  std::erase_if(targets_, [&](const auto& t) {
    return !std::binary_search(owned.begin(), owned.end(), t.first);
  });
  if (owned.empty() || step.replaying) return false;
  auto update = [&](const std::span<const PartitionLag> lag) {
    for (const PartitionLag& l : lag) {
      auto it = targets_.find(l.tp);
      if (it != targets_.end() && !it->second.reached)
        it->second.reached = AtTarget(l, it->second.end);
    }
  };
  auto all_reached = [&](bool repartition) {
    return std::ranges::all_of(owned, [&](const TopicPartition& tp) {
      if (tp.repartition != repartition) return true;
      auto it = targets_.find(tp);
      return it != targets_.end() && it->second.reached;
    });
  };
  const bool untargeted_input = std::ranges::any_of(
      owned, [&](const TopicPartition& tp) { return !tp.repartition && !targets_.contains(tp); });
  if (untargeted_input && !ReadTargets(/*repartition=*/false)) return false;
  update(step.lag);
  if (!all_reached(/*repartition=*/false)) return false;
  const bool reads_repartition =
      std::ranges::any_of(owned, [](const TopicPartition& tp) { return tp.repartition; });
  if (!reads_repartition) return true;
  // The inputs are read: what they forwarded is all there is. Stored, its ends are the targets.
  const uint64_t forwarded = step.counters->forwarded;
  const bool untargeted_repartition = std::ranges::any_of(
      owned, [&](const TopicPartition& tp) { return tp.repartition && !targets_.contains(tp); });
  if (untargeted_repartition || forwarded_at_query_ != forwarded) {
    if (rule_.flush_forwarded && !rule_.flush_forwarded().ok()) {
      return false;  // tried again next step; the epoch's own flush reports a lasting failure
    }
    if (!ReadTargets(/*repartition=*/true)) return false;
    forwarded_at_query_ = forwarded;
  }
  update(step.lag);
  return all_reached(/*repartition=*/true);
}

}  // namespace smartcity::pipeline
