#include "simulation/driver.h"

#include "simulation/pacer.h"

namespace smartcity::simulation {

Status RunSimulation(Simulator& sim, Sink& sink, Clock& clock, const DriverOptions& options,
                     const std::function<void(const Progress&)>& on_progress) {
  const ProcessingTime started = clock.Now();
  ProcessingTime next_report = started + options.progress_every;
  std::vector<Message> batch;
  batch.reserve(1024);
  Pacer pacer(options.speedup, sim.tick());
  Status result;
  auto report = [&](bool final) {
    if (!on_progress) return;
    on_progress(Progress{&sim.summary(), &sink.counters(), sim.now(),
                         std::chrono::duration<double>(clock.Now() - started), final});
  };
  while (true) {
    if (options.stop != nullptr && options.stop->load(std::memory_order_relaxed)) {
      // Stopped early: still hand out what the simulator holds back (late, reordered), so the
      // summary's emitted counts are what the sink received.
      sim.Stop(&batch);
      if (!batch.empty()) result = sink.Write(batch);
      break;
    }
    const bool more = sim.NextTick(&batch);
    if (!pacer.started()) pacer.Start(started, sim.now());
    // Tick k is released once its events are all in the past (pacer.h).
    if (pacer.paced()) clock.SleepUntil(pacer.Due(sim.now()));
    if (!batch.empty()) {
      result = sink.Write(batch);
      if (!result.ok()) break;
    }
    if (!more) break;
    if (on_progress && clock.Now() >= next_report) {
      report(false);
      next_report += options.progress_every;
      if (next_report < clock.Now()) next_report = clock.Now() + options.progress_every;
    }
  }
  Status flushed = sink.Flush(options.flush_timeout);
  report(true);
  if (!result.ok()) return result;
  return flushed;
}

}  // namespace smartcity::simulation
