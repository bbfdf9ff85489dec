#include "pipeline/idle_detector.h"

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

bool SourceInput::Done(const DriveStep& step) {
  const bool owns = !source_->Assignment().empty();
  if (!idle_.Idle(step.now, step.counters->records, step.lag_known) ||
      !IdleDetector::CaughtUp(owns, step.lag, step.groups)) {
    return false;
  }
  Result<std::vector<PartitionLag>> fresh = source_->QueryLag();
  return fresh.ok() && IdleDetector::CaughtUp(owns, *fresh, step.groups);
}

}  // namespace smartcity::pipeline
