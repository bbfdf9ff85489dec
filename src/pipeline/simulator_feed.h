// SimulatorFeed: the in-process transport's producer for `smartcity run`. It hands the simulator's
// ticks to a MemoryLog (partitioned like the Kafka topics: the Java murmur2 partitioner over the
// deviceId key), paced by --speedup with simulation::Pacer (a tick is released once its events are
// all in the past, as `simulate` does). Ticks the processor's checkpoints already cover are
// regenerated without pacing: the simulator is deterministic, so a restarted run catches up at full
// speed and then continues at the pace asked for.
//
// Feed() never sleeps: the caller's loop also drives the processor, so it asks for the ticks that
// are due now and steps the processor in between.
//
// Memory: the log grows by what the feed appends and shrinks by what its owner trims (`run` trims
// what the processor's checkpoints cover). With set_max_log_bytes, Feed() appends no tick while the
// log holds that much, unless told that the reader has read everything the log holds (then only a
// checkpoint that needs more input can free room: a replayed epoch, or an epoch allowed more input
// than the budget); it appends past the bound by at most one tick.
//
// Ownership: borrows the simulator and the log (they must outlive it). Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/clock.h"
#include "pipeline/driver.h"
#include "pipeline/processor.h"
#include "simulation/pacer.h"
#include "simulation/simulator.h"
#include "transport/event_source.h"
#include "transport/memory_event_source.h"

namespace smartcity::pipeline {

class SimulatorFeed {
 public:
  // The log's records with sequence numbers below `resume_at` were processed before (see
  // ResumePoint); they are regenerated without pacing.
  SimulatorFeed(simulation::Simulator* sim, MemoryLog* log, double speedup, int64_t resume_at);

  // Appends to the log the ticks that are due at clock->Now(), at most `max_ticks`, while the log
  // has room (see above; `reader_done`: the reader has read all the log holds); returns how many
  // were appended.
  int Feed(Clock* clock, int max_ticks = 64, bool reader_done = false);
  // Bytes (MemoryLog::bytes) the log may hold before Feed() waits for room; 0: no bound.
  void set_max_log_bytes(uint64_t bytes) { max_log_bytes_ = bytes; }
  // The last Feed() stopped because the log was full.
  bool waiting_for_room() const { return waiting_for_room_; }
  // The simulator has no more ticks and every one was appended.
  bool done() const { return !more_ && !pending_; }

 private:
  simulation::Simulator* sim_;
  MemoryLog* log_;
  simulation::Pacer pacer_;
  int64_t resume_at_;
  std::vector<Message> batch_;  // the generated tick not yet due (when pending_)
  bool pending_ = false;
  bool catching_up_ = false;  // pending_ tick was generated while catching up
  bool more_ = true;
  uint64_t max_log_bytes_ = 0;
  bool waiting_for_room_ = false;
};

// The feed as a Drive's input (`run`): each turn appends the ticks that are due; done once the
// simulation has ended and the processor has read and processed all of it.
// After each step it trims from the log what the processor's committed checkpoints cover (never
// read again, so the log holds only the epochs in flight), and the next turn's Feed() knows whether
// the processor has read everything the log holds (see set_max_log_bytes).
class SimulatorInput final : public DriveInput {
 public:
  // Borrows all four (they must outlive it). `processor` may be null: nothing is trimmed.
  SimulatorInput(SimulatorFeed* feed, Clock* clock, MemoryLog* log, const Processor* processor)
      : feed_(feed), clock_(clock), log_(log), processor_(processor) {}
  int Feed() override { return feed_->Feed(clock_, 64, /*reader_done=*/!behind_); }
  void AfterStep(const DriveStep& step) override {
    if (processor_ != nullptr) log_->Trim(processor_->CommittedPositions());
    behind_ = step.records_behind > 0;
  }
  bool Done(const DriveStep& step) override {
    return feed_->done() && step.lag_known && step.records_behind == 0 && !step.replaying;
  }

 private:
  SimulatorFeed* feed_;
  Clock* clock_;
  MemoryLog* log_;
  const Processor* processor_;
  bool behind_ = false;  // the last step left records unread
};

// Where the processor's checkpoints stand in the in-process log: the highest next position of the
// partitions it resumes from (-1: nothing processed yet).
int64_t ResumePoint(std::span<const PartitionPosition> positions);

}  // namespace smartcity::pipeline
