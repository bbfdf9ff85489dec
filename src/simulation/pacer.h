// Pacer: releases simulated ticks in step with processing time at --speedup s. The tick that starts
// at event time t is due at start + (t + tick - first) / s, where `first` is the start of the first
// paced tick and `start` the processing time pacing began: a tick is released once all its events
// (timestamps up to one tick after its start) are in the past, so a run of --duration D at
// --speedup 1 takes D, not D minus one tick. Used by RunSimulation (driver.h, which sleeps until a
// tick is due) and by the pipeline's in-process feed (which asks whether it is due yet).
//
// Thread-safety: a value type, one thread.
#pragma once

#include <chrono>

#include "common/time.h"

namespace smartcity::simulation {

class Pacer {
 public:
  // `speedup` 0: as fast as possible (no tick is ever held back).
  Pacer(double speedup, Micros tick) : speedup_(speedup), tick_(tick) {}

  bool paced() const { return speedup_ > 0; }
  bool started() const { return started_; }
  // Pacing begins at processing time `now` with the tick that starts at event time `first_tick`.
  void Start(ProcessingTime now, EventTime first_tick) {
    start_ = now;
    first_ = first_tick;
    started_ = true;
  }
  // When the tick that starts at `tick_start` is due. REQUIRES: paced() and started().
  ProcessingTime Due(EventTime tick_start) const {
    const auto event_elapsed = std::chrono::duration<double>(tick_start + tick_ - first_);
    return start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(event_elapsed /
                                                                                    speedup_);
  }

 private:
  double speedup_;
  Micros tick_;
  bool started_ = false;
  ProcessingTime start_{};
  EventTime first_{};
};

}  // namespace smartcity::simulation
