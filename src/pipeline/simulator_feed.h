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

// Where the processor's checkpoints stand in the in-process log: the highest next position of the
// partitions it resumes from (-1: nothing processed yet).
int64_t ResumePoint(std::span<const PartitionPosition> positions);

}  // namespace smartcity::pipeline
