// RunSimulation: drives a Simulator into a Sink, paced by --speedup against a Clock, reporting
// progress, until the simulator is done, the sink fails or `stop` is set.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "common/clock.h"
#include "simulation/simulator.h"
#include "transport/sink.h"

namespace smartcity::simulation {

struct Progress {
  const SimulationSummary* summary;
  const SinkCounters* sink;
  EventTime event_time;                   // simulated "now"
  std::chrono::duration<double> elapsed;  // processing time since start
  bool final;                             // the last report, after the sink was flushed
};

struct DriverOptions {
  double speedup = 1;                               // 0 = as fast as possible
  std::chrono::milliseconds progress_every{1000};   // processing time between reports
  std::chrono::milliseconds flush_timeout{30'000};  // the final flush's bound
  const std::atomic<bool>* stop = nullptr;          // set to end the run early (SIGINT)
};

// Returns the summary of the run. A sink error ends the run and is returned after a final flush
// attempt; the progress callback still gets a final report.
Status RunSimulation(Simulator& sim, Sink& sink, Clock& clock, const DriverOptions& options,
                     const std::function<void(const Progress&)>& on_progress);

}  // namespace smartcity::simulation
