#include "pipeline/simulator_feed.h"

#include <algorithm>

#include "transport/kafka_client.h"

namespace smartcity::pipeline {

SimulatorFeed::SimulatorFeed(simulation::Simulator* sim, MemoryLog* log, double speedup,
                             int64_t resume_at)
    : sim_(sim), log_(log), pacer_(speedup, sim->tick()), resume_at_(resume_at) {}

int SimulatorFeed::Feed(Clock* clock, int max_ticks, bool reader_done) {
  int ticks = 0;
  waiting_for_room_ = false;
  while (ticks < max_ticks) {
    if (max_log_bytes_ > 0 && log_->bytes() >= max_log_bytes_ && !(reader_done && ticks == 0)) {
      waiting_for_room_ = true;
      break;
    }
    if (!pending_) {
      if (!more_) break;
      catching_up_ = static_cast<int64_t>(log_->next_sequence().value()) <= resume_at_;
      more_ = sim_->NextTick(&batch_);
      pending_ = true;
      if (!catching_up_ && !pacer_.started()) pacer_.Start(clock->Now(), sim_->now());
    }
    if (!catching_up_ && pacer_.paced() && clock->Now() < pacer_.Due(sim_->now())) break;
    const int32_t partitions = log_->partitions();
    for (const Message& m : batch_) {
      log_->Append(m.topic, PartitionId(JavaPartitionForKey(m.key, partitions)), m.key, m.value);
    }
    pending_ = false;
    ++ticks;
  }
  return ticks;
}

int64_t ResumePoint(std::span<const PartitionPosition> positions) {
  int64_t resume_at = -1;
  for (const PartitionPosition& p : positions) {
    if (p.next) resume_at = std::max(resume_at, p.next->value());
  }
  return resume_at;
}

}  // namespace smartcity::pipeline
